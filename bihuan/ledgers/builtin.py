"""The seed's registers, ready made (FACTS.md): definitions as data, loaded by the demo seed and
by ``bihuan registers load-builtin`` into a real deployment (the same rules as any definition file;
loading twice changes nothing)."""

from __future__ import annotations

from bihuan.orgs.models import Level

LEVELS_EDU = ["初中及以下", "高中/中专", "大专", "本科", "研究生"]

DEFINITIONS = [
    {"code": "cooperatives", "name": "党组织领办合作社", "level": Level.VILLAGE,
     "description": "村党组织领办的合作社（全市3475家）及示范项目库。",
     "fields": [
         {"key": "name", "label": "合作社名称", "type": "text", "required": True, "listed": True, "max_length": 80,
          "unique": "city"},
         {"key": "kind", "label": "类型", "type": "choice", "required": True, "listed": True,
          "choices": ["种植", "养殖", "农机服务", "乡村旅游", "劳务", "土地股份", "其他"]},
         {"key": "members", "label": "成员数", "type": "number", "required": True, "listed": True, "unit": "户",
          "min": 0, "max": 100000},
         {"key": "revenue", "label": "年经营收入", "type": "money", "listed": True, "min": 0},
         {"key": "party_org", "label": "领办党组织", "type": "text", "max_length": 80},
         {"key": "demo_level", "label": "示范等级", "type": "choice", "listed": True,
          "choices": ["无", "县级示范", "市级示范", "省级示范"]},
         {"key": "in_project_library", "label": "入选示范项目库", "type": "bool"},
         {"key": "founded_on", "label": "成立日期", "type": "date"},
     ]},
    {"code": "rep_offices", "name": "党代表工作室", "level": Level.TOWNSHIP,
     "description": "党代表工作室（全市149个）：收集建议、服务群众。",
     "fields": [
         {"key": "name", "label": "工作室名称", "type": "text", "required": True, "listed": True, "max_length": 80,
          "unique": "city"},
         {"key": "location", "label": "地点", "type": "text", "required": True, "listed": True, "max_length": 120},
         {"key": "representatives", "label": "进驻代表数", "type": "number", "listed": True, "unit": "人",
          "min": 0, "max": 200},
         {"key": "reception_days", "label": "接待日", "type": "multi", "listed": True,
          "choices": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]},
         {"key": "contact_phone", "label": "联系电话", "type": "text", "personal": True, "max_length": 20,
          "pattern": r"[0-9\-]{7,20}"},
     ]},
    {"code": "rep_village_links", "name": "百名代表委员联百村", "level": Level.VILLAGE,
     "description": "代表委员联系村：代表、联系村、走访次数。",
     "fields": [
         {"key": "representative", "label": "代表委员", "type": "text", "required": True, "listed": True,
          "max_length": 40},
         {"key": "role", "label": "身份", "type": "choice", "listed": True,
          "choices": ["党代表", "人大代表", "政协委员"]},
         {"key": "visits", "label": "本年走访次数", "type": "number", "listed": True, "unit": "次", "min": 0,
          "max": 365},
         {"key": "last_visit_on", "label": "最近走访", "type": "date", "listed": True},
     ]},
    {"code": "reserve_talents", "name": "村级后备人才", "level": Level.VILLAGE,
     "description": "村级后备力量动态人才库（2万余名）。",
     "fields": [
         {"key": "name", "label": "姓名", "type": "text", "required": True, "listed": True, "max_length": 40},
         {"key": "id_number", "label": "身份证号", "type": "text", "personal": True, "max_length": 18,
          "pattern": r"[0-9]{17}[0-9Xx]", "unique": "city"},
         {"key": "age", "label": "年龄", "type": "number", "required": True, "listed": True, "unit": "岁",
          "min": 18, "max": 60},
         {"key": "education", "label": "学历", "type": "choice", "listed": True, "choices": LEVELS_EDU},
         {"key": "current_post", "label": "现任职务", "type": "text", "listed": True, "max_length": 60},
         {"key": "training", "label": "培训记录", "type": "text", "max_length": 500},
         {"key": "assessment", "label": "考察评价", "type": "choice", "listed": True,
          "choices": ["优秀", "称职", "基本称职", "待考察"]},
     ]},
    {"code": "service_capacity", "name": "岗位学位床位托位", "level": Level.TOWNSHIP,
     "description": "公共服务供给：岗位、学位、床位、托位，按乡镇汇总空余。",
     "fields": [
         {"key": "kind", "label": "类别", "type": "choice", "required": True, "listed": True,
          "choices": ["岗位", "学位", "床位", "托位"]},
         {"key": "provider", "label": "提供单位", "type": "text", "required": True, "listed": True,
          "max_length": 80},
         {"key": "capacity", "label": "总量", "type": "number", "required": True, "listed": True, "unit": "个",
          "min": 0, "max": 100000},
         {"key": "occupied", "label": "已用", "type": "number", "required": True, "listed": True, "unit": "个",
          "min": 0, "max": 100000},
         {"key": "free", "label": "空余", "type": "number", "required": True, "listed": True, "unit": "个",
          "min": 0, "max": 100000},
         {"key": "key_project", "label": "重点民生项目", "type": "bool"},
     ]},
    {"code": "village_class", "name": "村级分类（强基/创优/示范）", "level": Level.VILLAGE,
     "description": "每年一次的村级分类台账，记录类别变化。",
     "fields": [
         {"key": "year", "label": "年度", "type": "number", "required": True, "listed": True, "min": 2000,
          "max": 2100, "unique": "unit"},
         {"key": "klass", "label": "类别", "type": "choice", "required": True, "listed": True,
          "choices": ["强基", "创优", "示范"]},
         {"key": "previous", "label": "上年类别", "type": "choice", "listed": True,
          "choices": ["强基", "创优", "示范"]},
         {"key": "collective_income", "label": "村集体收入", "type": "money", "listed": True, "min": 0},
     ]},
    {"code": "village_enterprise", "name": "村企联建", "level": Level.VILLAGE,
     "description": "村企联建：村与企业结对共建。",
     "fields": [
         {"key": "enterprise", "label": "联建企业", "type": "text", "required": True, "listed": True,
          "max_length": 80},
         {"key": "field", "label": "联建领域", "type": "multi", "listed": True,
          "choices": ["产业发展", "就业帮扶", "基础设施", "人才培养", "公益服务"]},
         {"key": "investment", "label": "投入资金", "type": "money", "listed": True, "min": 0},
         {"key": "signed_on", "label": "签约日期", "type": "date", "listed": True},
     ]},
]


def definitions() -> list[dict]:
    return [{**d, "level": int(d["level"])} for d in DEFINITIONS]


def load(user=None, *, now=None) -> dict:
    from . import services

    return services.load_definitions(user, definitions(), now=now)

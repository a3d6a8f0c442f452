"""Enumerations of the people app. Labels are English msgids; exports use the Chinese ``ZH`` maps."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Gender(models.TextChoices):
    MALE = "M", _("male")
    FEMALE = "F", _("female")


class PartyStatus(models.TextChoices):
    """Stages of the 发展党员 pipeline, then membership."""

    NONE = "", _("none")
    APPLICANT = "applicant", _("applicant")  # 入党申请人
    TARGET = "target", _("cultivation target")  # 发展对象 (incl. 积极分子)
    PROBATIONARY = "probationary", _("probationary member")  # 预备党员
    FORMAL = "formal", _("formal member")  # 正式党员


MEMBER_STATUSES = (PartyStatus.PROBATIONARY, PartyStatus.FORMAL)
PIPELINE_STATUSES = (PartyStatus.APPLICANT, PartyStatus.TARGET)


class GridRole(models.TextChoices):
    NONE = "", _("none")
    GRID_WORKER = "grid_worker", _("grid worker")  # 网格员
    BUILDING = "building", _("building leader")  # 楼栋长
    STAIRWELL = "stairwell", _("stairwell leader")  # 单元长


class Relation(models.TextChoices):
    """Relation to the head of the household."""

    NONE = "", _("not set")
    HEAD = "head", _("head")
    SPOUSE = "spouse", _("spouse")
    CHILD = "child", _("child")
    PARENT = "parent", _("parent")
    GRANDCHILD = "grandchild", _("grandchild")
    SIBLING = "sibling", _("sibling")
    OTHER = "other", _("other relative")


class Education(models.TextChoices):
    NONE = "", _("not set")
    PRIMARY = "primary", _("primary school")
    JUNIOR = "junior", _("junior secondary")
    SENIOR = "senior", _("senior secondary / vocational")
    COLLEGE = "college", _("junior college")
    BACHELOR = "bachelor", _("bachelor")
    POSTGRADUATE = "postgraduate", _("postgraduate")


class Role(models.TextChoices):
    """Search filter over the roles a person may hold at once."""

    RESIDENT = "resident", _("resident")
    PARTY_MEMBER = "party_member", _("party member")
    APPLICANT = "applicant", _("applicant or cultivation target")
    VOLUNTEER = "volunteer", _("volunteer")
    LECTURER = "lecturer", _("lecturer")
    RESERVE = "reserve", _("reserve talent")
    GRID = "grid", _("grid worker, building or stairwell leader")


class Flag(models.TextChoices):
    """Vulnerability flags (细致摸排)."""

    LIVING_ALONE = "living_alone", _("living alone")
    ELDERLY = "elderly", _("elderly")
    HARDSHIP = "hardship", _("hardship")
    DISABILITY = "disability", _("disability")
    CHRONIC_ILLNESS = "chronic_illness", _("chronic illness")
    LEFT_BEHIND_CHILD = "left_behind_child", _("left-behind child")


class AgeBand(models.TextChoices):
    """Reserve-talent age bands, derived from the birth date and ``now``."""

    UNDER_30 = "u30", _("under 30")
    FROM_30 = "30_34", _("30–34")
    FROM_35 = "35_39", _("35–39")
    FROM_40 = "40_44", _("40–44")
    FROM_45 = "45p", _("45 and over")


# (band, min age inclusive, max age exclusive or None)
AGE_BANDS = [
    (AgeBand.UNDER_30, 0, 30),
    (AgeBand.FROM_30, 30, 35),
    (AgeBand.FROM_35, 35, 40),
    (AgeBand.FROM_40, 40, 45),
    (AgeBand.FROM_45, 45, None),
]

# Chinese labels for exported files and accepted on import (English codes are accepted too).
ZH_GENDER = {"男": Gender.MALE, "女": Gender.FEMALE}
ZH_PARTY = {"": PartyStatus.NONE, "群众": PartyStatus.NONE, "入党申请人": PartyStatus.APPLICANT,
            "发展对象": PartyStatus.TARGET, "预备党员": PartyStatus.PROBATIONARY, "中共党员": PartyStatus.FORMAL}
ZH_GRID_ROLE = {"": GridRole.NONE, "无": GridRole.NONE, "网格员": GridRole.GRID_WORKER,
                "楼栋长": GridRole.BUILDING, "单元长": GridRole.STAIRWELL}
ZH_RELATION = {"": Relation.NONE, "户主": Relation.HEAD, "配偶": Relation.SPOUSE, "子女": Relation.CHILD,
               "父母": Relation.PARENT, "孙子女": Relation.GRANDCHILD, "兄弟姐妹": Relation.SIBLING,
               "其他": Relation.OTHER}
ZH_EDUCATION = {"": Education.NONE, "小学": Education.PRIMARY, "初中": Education.JUNIOR,
                "高中/中专": Education.SENIOR, "大专": Education.COLLEGE, "本科": Education.BACHELOR,
                "研究生": Education.POSTGRADUATE}
ZH_FLAG = {Flag.LIVING_ALONE: "独居", Flag.ELDERLY: "高龄", Flag.HARDSHIP: "困难",
           Flag.DISABILITY: "残疾", Flag.CHRONIC_ILLNESS: "慢性病", Flag.LEFT_BEHIND_CHILD: "留守儿童"}


def zh_label(mapping: dict, value) -> str:
    """The Chinese label of an internal value (first match; '' for none)."""
    for label, v in mapping.items():
        if v == value and label:
            return label
    return ""

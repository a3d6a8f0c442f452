from django.db import migrations


def forwards(apps, schema_editor):
    # h-eval2: built-in roles gain evaluation.set.import / evaluation.set.export (accounts.roles EVAL_ADMIN).
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0006_rank_rule")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

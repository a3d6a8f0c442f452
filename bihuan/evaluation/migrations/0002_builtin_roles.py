from django.db import migrations


def forwards(apps, schema_editor):
    # Built-in roles gain the evaluation.* permissions (accounts.roles EVAL_* / POINTS_*).
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("evaluation", "0001_initial"), ("plans", "0002_builtin_roles")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

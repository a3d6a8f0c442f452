from django.db import migrations


def forwards(apps, schema_editor):
    # Built-in roles gain the plans.* permissions (accounts.roles PLANS_READ / PLANS_WORK).
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("plans", "0001_initial"), ("accounts", "0003_people_permissions")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

from django.db import migrations


def forwards(apps, schema_editor):
    # Built-in roles gain plans.project.* and plans.enterprise.* (accounts.roles REGISTERS_*).
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("plans", "0003_campaigns_registers"), ("plans", "0002_builtin_roles")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

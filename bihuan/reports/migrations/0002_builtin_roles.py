from django.db import migrations


def forwards(apps, schema_editor):
    # Built-in roles gain the reports.* permissions (accounts.roles REPORTS_READ / REPORTS_WORK).
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("reports", "0001_initial"), ("accounts", "0005_separation_of_duties")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

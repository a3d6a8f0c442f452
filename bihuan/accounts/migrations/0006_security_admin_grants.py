from django.db import migrations


def forwards(apps, schema_editor):
    # The security administrator reads the tree to name the unit of a binding (accounts.roles).
    from bihuan.accounts.roles import ensure_builtin_roles

    ensure_builtin_roles(apps.get_model("accounts", "Role"))


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_separation_of_duties")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

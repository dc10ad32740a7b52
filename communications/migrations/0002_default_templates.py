"""Install the shipped message templates (version 1 of each, active)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from communications.defaults import install_defaults

    install_defaults(
        apps.get_model("communications", "CommunicationTemplate"),
        apps.get_model("communications", "TemplateVersion"),
    )
    apps.get_model("communications", "CommunicationSettings").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("communications", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

"""Install the buyer's order receipt email (only added where it is missing)."""

from django.db import migrations


def forwards(apps, schema_editor):
    from communications.defaults import install_defaults

    install_defaults(
        apps.get_model("communications", "CommunicationTemplate"),
        apps.get_model("communications", "TemplateVersion"),
    )


class Migration(migrations.Migration):
    dependencies = [("communications", "0006_order_receipt_event")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

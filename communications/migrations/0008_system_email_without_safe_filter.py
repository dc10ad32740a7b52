"""The system email's HTML part no longer uses the ``safe`` filter, which message
templates may not use: installs that still use the shipped version 1 get a version 2
showing ``{{ html }}`` (the gateway passes it as markup); edited templates are left as
the admins made them and must be saved again without the filter."""

from django.db import migrations


def forwards(apps, schema_editor):
    from communications.defaults import SYSTEM_EMAIL_V1, upgrade_shipped_default

    upgrade_shipped_default(
        apps.get_model("communications", "CommunicationTemplate"),
        apps.get_model("communications", "TemplateVersion"),
        event="system_email",
        channel="email",
        previous=SYSTEM_EMAIL_V1,
    )


class Migration(migrations.Migration):
    dependencies = [("communications", "0007_order_receipt_template")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

"""The gift card email shows the card's QR code: installs that still use the shipped
version 1 get a version 2 with the image; edited templates are left as they are."""

from django.db import migrations


def forwards(apps, schema_editor):
    from communications.defaults import GIFT_CARD_EMAIL_V1, upgrade_shipped_default

    upgrade_shipped_default(
        apps.get_model("communications", "CommunicationTemplate"),
        apps.get_model("communications", "TemplateVersion"),
        event="gift_card_delivered",
        channel="email",
        previous=GIFT_CARD_EMAIL_V1,
    )


class Migration(migrations.Migration):
    dependencies = [("communications", "0004_communicationlog_send_test_message")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]

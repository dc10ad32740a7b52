"""The gift card email shows the card's QR code: installs that still use the shipped
version 1 get a version 2 with the image; edited templates are left as they are."""

from django.db import migrations

# The gift card email as first shipped (a frozen copy: the text now belongs to the gift
# cards app, giftcards.messages.GIFT_CARD_EMAIL_V1).
GIFT_CARD_EMAIL_V1 = {
    "subject": "{{ sender_name }} sent you a {{ amount }} gift card for {{ merchant_name }}",
    "text": "Hello {{ recipient_name }},\n\n{{ sender_name }} sent you a {{ amount }} gift"
    " card for {{ merchant_name }}.\n\n{{ message }}\n\nYour code:"
    " {{ code }}\nValid until {{ expires_on }}.\nSee your card: {{ card_url }}\n",
    "html": "<p>Hello {{ recipient_name }},</p><p>{{ sender_name }} sent you a"
    " <strong>{{ amount }}</strong> gift card for {{ merchant_name }}.</p>"
    "<blockquote>{{ message }}</blockquote><p>Your code:"
    " <strong>{{ code }}</strong><br>Valid until {{ expires_on }}.</p>"
    '<p><a href="{{ card_url }}">See your card</a></p>',
}


def forwards(apps, schema_editor):
    from communications.defaults import upgrade_shipped_default

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

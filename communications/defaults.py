"""The templates the platform ships with: version 1 of every event on every channel it
uses. ``install_defaults`` only adds what is missing, so admins' edits are never undone.

When a shipped text improves, a data migration calls ``upgrade_shipped_default``: the
template gets the new text as its next version only while its active version is still
the text shipped before, untouched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Max

SITE = ["site_name"]

# The content id of the card's QR code, attached to the delivery email by the sender.
CARD_QR_CONTENT_ID = "card-qr"

# The gift card email as first shipped (version 1 on installs before the QR code).
GIFT_CARD_EMAIL_V1: dict[str, str] = {
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

# The catch-all for mail sent the Django way as first shipped: its HTML part used the
# ``safe`` filter, which templates may no longer use. The gateway now passes that HTML
# (rendered and escaped by Django's own templates) as markup, so ``{{ html }}`` shows it.
SYSTEM_EMAIL_V1: dict[str, str] = {
    "subject": "{{ subject }}",
    "text": "{{ body }}",
    "html": "{{ html|safe }}",
}

DEFAULTS: list[dict[str, Any]] = [
    {
        "event": "account_email_verification",
        "channel": "email",
        "variables": [*SITE, "user_email", "activate_url"],
        "sample": {
            "user_email": "ana@example.com",
            "activate_url": "https://gifts.example.com/accounts/confirm-email/sample/",
        },
        "subject": "Confirm your email address for {{ site_name }}",
        "text": "Hello,\n\nPlease confirm that {{ user_email }} is your email address by opening"
        " this link:\n\n{{ activate_url }}\n\nIf you did not sign up for {{ site_name }},"
        " you can ignore this message.\n",
        "html": "<p>Hello,</p><p>Please confirm that <strong>{{ user_email }}</strong> is your"
        ' email address.</p><p><a href="{{ activate_url }}">Confirm my email'
        " address</a></p><p>If you did not sign up for {{ site_name }}, you can ignore"
        " this message.</p>",
    },
    {
        "event": "account_already_exists",
        "channel": "email",
        "variables": [*SITE, "user_email", "password_reset_url", "login_url"],
        "sample": {
            "user_email": "ana@example.com",
            "password_reset_url": "https://gifts.example.com/accounts/password/reset/",
            "login_url": "https://gifts.example.com/accounts/login/",
        },
        "subject": "You already have a {{ site_name }} account",
        "text": "Hello,\n\nSomeone tried to sign up with {{ user_email }}, which already has an"
        " account. Sign in at {{ login_url }}, or reset your password at"
        " {{ password_reset_url }}.\n\nIf it was not you, no action is needed.\n",
        "html": "",
    },
    {
        "event": "password_reset",
        "channel": "email",
        "variables": [*SITE, "user_email", "password_reset_url"],
        "sample": {
            "user_email": "ana@example.com",
            "password_reset_url": "https://gifts.example.com/accounts/password/reset/key/x/",
        },
        "subject": "Reset your {{ site_name }} password",
        "text": "Hello,\n\nWe received a request to reset the password for {{ user_email }}."
        " Choose a new one here:\n\n{{ password_reset_url }}\n\nIf you did not ask for"
        " this, ignore this message: your password stays as it is.\n",
        "html": "<p>Hello,</p><p>We received a request to reset the password for"
        ' <strong>{{ user_email }}</strong>.</p><p><a href="{{ password_reset_url }}">'
        "Choose a new password</a></p><p>If you did not ask for this, ignore this"
        " message: your password stays as it is.</p>",
    },
    {
        "event": "password_changed",
        "channel": "email",
        "variables": [*SITE, "user_email"],
        "sample": {"user_email": "ana@example.com"},
        "subject": "Your {{ site_name }} password was changed",
        "text": "Hello,\n\nThe password for {{ user_email }} was just changed. If this was not"
        " you, reset your password at once and contact support.\n",
        "html": "",
    },
    {
        "event": "merchant_invitation",
        "channel": "email",
        "variables": [
            *SITE,
            "user_email",
            "merchant_name",
            "role",
            "invited_by",
            "accept_url",
            "expires_on",
        ],
        "sample": {
            "user_email": "ana@example.com",
            "merchant_name": "Bluebird Coffee",
            "role": "owner",
            "invited_by": "Olive Owner",
            "accept_url": "https://gifts.example.com/invitations/sample/",
            "expires_on": "11 Dec 2026",
        },
        "subject": "Join {{ merchant_name }} on {{ site_name }}",
        "text": "Hello,\n\n{{ invited_by }} invited {{ user_email }} to join {{ merchant_name }}"
        " on {{ site_name }} as {{ role }}.\n\nAccept the invitation here (the link works once,"
        " until {{ expires_on }}):\n\n{{ accept_url }}\n\nIf you did not expect this, you can"
        " ignore this message: nothing changes until the link is used.\n",
        "html": "<p>Hello,</p><p>{{ invited_by }} invited <strong>{{ user_email }}</strong> to"
        " join <strong>{{ merchant_name }}</strong> on {{ site_name }} as {{ role }}.</p>"
        '<p><a href="{{ accept_url }}">Accept the invitation</a></p><p>The link works once,'
        " until {{ expires_on }}. If you did not expect this, you can ignore this message:"
        " nothing changes until the link is used.</p>",
    },
    {
        "event": "otp_code",
        "channel": "sms",
        "variables": [*SITE, "code", "minutes", "purpose"],
        "sample": {"code": "123456", "minutes": 10, "purpose": "sign-in"},
        "subject": "",
        "text": "{{ code }} is your {{ site_name }} {{ purpose }} code. It expires in"
        " {{ minutes }} minutes. Never share it.",
        "html": "",
    },
    {
        "event": "otp_code",
        "channel": "email",
        "variables": [*SITE, "code", "minutes", "purpose"],
        "sample": {"code": "123456", "minutes": 10, "purpose": "sign-in"},
        "subject": "Your {{ site_name }} {{ purpose }} code",
        "text": "Your {{ purpose }} code is {{ code }}. It expires in {{ minutes }} minutes."
        " Never share it with anyone.\n",
        "html": "<p>Your {{ purpose }} code is <strong>{{ code }}</strong>.</p><p>It expires"
        " in {{ minutes }} minutes. Never share it with anyone.</p>",
    },
    {
        "event": "gift_card_delivered",
        "channel": "email",
        "variables": [
            *SITE,
            "recipient_name",
            "sender_name",
            "merchant_name",
            "amount",
            "code",
            "message",
            "card_url",
            "expires_on",
        ],
        "sample": {
            "recipient_name": "Ana",
            "sender_name": "Ben",
            "merchant_name": "Bluebird",
            "amount": "€25.00",
            "code": "7KQ2-M9XD-4HTR-ZB6W",
            "message": "Enjoy!",
            "card_url": "https://gifts.example.com/c/sample/",
            "expires_on": "1 Jan 2030",
        },
        "subject": GIFT_CARD_EMAIL_V1["subject"],
        "text": GIFT_CARD_EMAIL_V1["text"],
        # The QR code is an inline image part of the email (``send(inline_images=...)``):
        # mail clients block data: URIs and remote images.
        "html": "<p>Hello {{ recipient_name }},</p><p>{{ sender_name }} sent you a"
        " <strong>{{ amount }}</strong> gift card for {{ merchant_name }}.</p>"
        "<blockquote>{{ message }}</blockquote><p>Your code:"
        " <strong>{{ code }}</strong><br>Valid until {{ expires_on }}.</p>"
        f'<p><img src="cid:{CARD_QR_CONTENT_ID}" alt="QR code of your card" width="160"'
        ' height="160"></p>'
        '<p><a href="{{ card_url }}">See your card</a></p>',
        "note": "Shipped default, with the QR code of the card",
    },
    {
        "event": "gift_card_delivered",
        "channel": "sms",
        "variables": [*SITE, "sender_name", "merchant_name", "amount", "card_url"],
        "sample": {
            "sender_name": "Ben",
            "merchant_name": "Bluebird",
            "amount": "€25.00",
            "card_url": "https://gifts.example.com/c/sample/",
        },
        "subject": "",
        "text": "{{ sender_name }} sent you a {{ amount }} gift card for {{ merchant_name }}:"
        " {{ card_url }}",
        "html": "",
    },
    {
        "event": "gift_card_expiry_reminder",
        "channel": "email",
        "variables": [*SITE, "merchant_name", "amount", "last4", "expires_on", "card_url"],
        "sample": {
            "merchant_name": "Bluebird",
            "amount": "€12.50",
            "last4": "ZB6W",
            "expires_on": "1 Jan 2030",
            "card_url": "https://gifts.example.com/c/sample/",
        },
        "subject": "Your {{ merchant_name }} gift card expires on {{ expires_on }}",
        "text": "Your gift card ending {{ last4 }} still holds {{ amount }} and expires on"
        " {{ expires_on }}. Spend it at {{ merchant_name }} before then: {{ card_url }}\n",
        "html": "",
    },
    {
        "event": "redemption_receipt",
        "channel": "email",
        "variables": [
            *SITE,
            "merchant_name",
            "amount",
            "balance",
            "last4",
            "transaction_id",
            "when",
        ],
        "sample": {
            "merchant_name": "Bluebird",
            "amount": "€12.50",
            "balance": "€37.50",
            "last4": "ZB6W",
            "transaction_id": "txn_sample",
            "when": "25 Nov 2026 14:00",
        },
        "subject": "Your receipt from {{ merchant_name }}",
        "text": "You spent {{ amount }} from your gift card ending {{ last4 }} at"
        " {{ merchant_name }} on {{ when }}. It now holds {{ balance }}.\nReference:"
        " {{ transaction_id }}\n",
        "html": "",
    },
    {
        "event": "order_receipt",
        "channel": "email",
        # ``lines`` is a list: one entry per order line, with the keys the sample shows.
        # A receipt never carries a card code: the codes go to whoever each card is for.
        "variables": [
            *SITE,
            "buyer_name",
            "merchant_name",
            "order_id",
            "ordered_on",
            "lines",
            "total",
            "payment_method",
            "order_url",
        ],
        "sample": {
            "buyer_name": "Ben",
            "merchant_name": "Bluebird",
            "order_id": "ord_sample",
            "ordered_on": "25 Nov 2026, 14:00 (Europe/Paris)",
            "lines": [
                {
                    "product": "Coffee card",
                    "amount": "€25.00",
                    "quantity": 2,
                    "subtotal": "€50.00",
                    "recipient": "you",
                    "delivery": "At once",
                },
                {
                    "product": "Coffee card",
                    "amount": "€50.00",
                    "quantity": 1,
                    "subtotal": "€50.00",
                    "recipient": "Ana",
                    "delivery": "24 Dec 2026, 09:00 (Europe/Paris)",
                },
            ],
            "total": "€100.00",
            "payment_method": "Card (Stripe)",
            "order_url": "https://gifts.example.com/orders/ord_sample/?t=sample",
        },
        "subject": "Your receipt from {{ merchant_name }}",
        "text": "Hello {{ buyer_name }},\n\nThank you for your order from {{ merchant_name }}."
        " This is your receipt.\n\nOrder: {{ order_id }}\nDate: {{ ordered_on }}\n\n"
        "{% for line in lines %}{{ line.quantity }} x {{ line.product }} at {{ line.amount }}"
        " each, for {{ line.recipient }}: {{ line.subtotal }}\n  Delivery: {{ line.delivery }}"
        "\n{% endfor %}\nTotal: {{ total }}\nPayment: {{ payment_method }}\n\nSee your"
        " order and its cards: {{ order_url }}\n\n{{ merchant_name }}\n",
        "html": "<p>Hello {{ buyer_name }},</p><p>Thank you for your order from"
        " {{ merchant_name }}. This is your receipt.</p><p>Order <strong>{{ order_id }}"
        "</strong><br>Date: {{ ordered_on }}</p><table><thead><tr><th>Gift card</th>"
        "<th>Each</th><th>Quantity</th><th>For</th><th>Delivery</th><th>Amount</th></tr>"
        "</thead><tbody>{% for line in lines %}<tr><td>{{ line.product }}</td>"
        "<td>{{ line.amount }}</td><td>{{ line.quantity }}</td><td>{{ line.recipient }}</td>"
        "<td>{{ line.delivery }}</td><td>{{ line.subtotal }}</td></tr>{% endfor %}</tbody>"
        '<tfoot><tr><th colspan="5">Total</th><td><strong>{{ total }}</strong></td></tr>'
        "</tfoot></table><p>Payment: {{ payment_method }}</p>"
        '<p><a href="{{ order_url }}">See your order and its cards</a></p>'
        "<p>{{ merchant_name }}</p>",
    },
    {
        "event": "payout_sent",
        "channel": "email",
        "variables": [*SITE, "merchant_name", "amount", "reference", "expected_on"],
        "sample": {
            "merchant_name": "Bluebird",
            "amount": "€1,250.00",
            "reference": "po_sample",
            "expected_on": "27 Nov 2026",
        },
        "subject": "{{ site_name }} sent you {{ amount }}",
        "text": "Hello {{ merchant_name }},\n\nWe sent your payout of {{ amount }} (reference"
        " {{ reference }}). Expect it in your account by {{ expected_on }}.\n",
        "html": "",
    },
    *[
        {
            "event": "test_message",
            "channel": channel,
            "variables": [*SITE, "channel", "sent_at"],
            "sample": {"channel": channel, "sent_at": "25 Nov 2026 14:00"},
            "subject": "{{ site_name }} test message",
            "text": "This is a test {{ channel }} message from {{ site_name }}, sent at"
            " {{ sent_at }}.",
            "html": "",
        }
        for channel in ("email", "sms", "push")
    ],
    {
        "event": "system_email",
        "channel": "email",
        "variables": [*SITE, "subject", "body", "html"],
        "sample": {"subject": "Server error", "body": "Details...", "html": ""},
        "subject": SYSTEM_EMAIL_V1["subject"],
        "text": SYSTEM_EMAIL_V1["text"],
        "html": "{{ html }}",
        "note": "Shipped default, without the safe filter",
    },
]


def install_defaults(template_model: Any, version_model: Any) -> int:
    """Create every missing default template with its version 1, active. Returns how many."""
    created = 0
    for spec in DEFAULTS:
        template, made = template_model.objects.get_or_create(
            event=spec["event"],
            channel=spec["channel"],
            defaults={"variables": spec["variables"], "sample_context": spec["sample"]},
        )
        if not made:
            continue
        version = version_model.objects.create(
            template=template,
            number=1,
            subject=spec["subject"],
            body_text=spec["text"],
            body_html=spec["html"],
            note="Shipped default",
        )
        template.active_version = version
        template.save(update_fields=["active_version"])
        created += 1
    return created


def shipped_default(event: str, channel: str) -> dict[str, Any]:
    return next(s for s in DEFAULTS if (s["event"], s["channel"]) == (event, channel))


def upgrade_shipped_default(
    template_model: Any,
    version_model: Any,
    *,
    event: str,
    channel: str,
    previous: Mapping[str, str],
) -> bool:
    """Make the current shipped text of ``event``/``channel`` the template's next version,
    active, when its active version is version 1 with exactly the ``previous`` shipped
    text. An edited template (a later version active, or version 1 changed) is left as
    the admins made it. Returns whether a version was added."""
    template = template_model.objects.filter(event=event, channel=channel).first()
    if template is None or template.active_version_id is None:
        return False
    active = version_model.objects.get(pk=template.active_version_id)
    untouched = active.number == 1 and (
        active.subject,
        active.body_text,
        active.body_html,
    ) == (previous["subject"], previous["text"], previous["html"])
    if not untouched:
        return False
    spec = shipped_default(event, channel)
    last = version_model.objects.filter(template=template).aggregate(last=Max("number"))["last"]
    version = version_model.objects.create(
        template=template,
        number=(last or 0) + 1,
        subject=spec["subject"],
        body_text=spec["text"],
        body_html=spec["html"],
        note=spec.get("note", "Shipped default"),
    )
    template.active_version = version
    template.save(update_fields=["active_version"])
    return True

"""The messages about gift cards and the texts shipped for them, registered with
communications by ``GiftcardsConfig.ready`` (communications knows nothing of gift cards)."""

from __future__ import annotations

from typing import Any

from communications.events import SITE_VARIABLES, events

GIFT_CARD_DELIVERED = "gift_card_delivered"
GIFT_CARD_EXPIRY_REMINDER = "gift_card_expiry_reminder"
REDEMPTION_RECEIPT = "redemption_receipt"

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

DELIVERED: tuple[dict[str, Any], ...] = (
    {
        "channel": "email",
        "variables": [
            *SITE_VARIABLES,
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
        "channel": "sms",
        "variables": [*SITE_VARIABLES, "sender_name", "merchant_name", "amount", "card_url"],
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
)

EXPIRY_REMINDER: tuple[dict[str, Any], ...] = (
    {
        "channel": "email",
        "variables": [
            *SITE_VARIABLES,
            "merchant_name",
            "amount",
            "last4",
            "expires_on",
            "card_url",
        ],
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
)

REDEMPTION: tuple[dict[str, Any], ...] = (
    {
        "channel": "email",
        "variables": [
            *SITE_VARIABLES,
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
)


def register() -> None:
    events.register(
        GIFT_CARD_DELIVERED, label="Gift card delivered", owner="giftcards", templates=DELIVERED
    )
    events.register(
        GIFT_CARD_EXPIRY_REMINDER,
        label="Gift card expiry reminder",
        owner="giftcards",
        templates=EXPIRY_REMINDER,
    )
    events.register(
        REDEMPTION_RECEIPT, label="Redemption receipt", owner="giftcards", templates=REDEMPTION
    )

"""The order receipt and the text shipped for it, registered with communications by
``OrdersConfig.ready``. The cards an order delivers are gift card messages
(``giftcards.messages.GIFT_CARD_DELIVERED``)."""

from __future__ import annotations

from typing import Any

from communications.events import SITE_VARIABLES, events

ORDER_RECEIPT = "order_receipt"

RECEIPT: tuple[dict[str, Any], ...] = (
    {
        "channel": "email",
        # ``lines`` is a list: one entry per order line, with the keys the sample shows.
        # A receipt never carries a card code: the codes go to whoever each card is for.
        "variables": [
            *SITE_VARIABLES,
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
)


def register() -> None:
    events.register(ORDER_RECEIPT, label="Order receipt", owner="orders", templates=RECEIPT)

"""The payout notice and the text shipped for it, registered with communications by
``PayoutsConfig.ready``."""

from __future__ import annotations

from typing import Any

from communications.events import SITE_VARIABLES, events

PAYOUT_SENT = "payout_sent"

SENT: tuple[dict[str, Any], ...] = (
    {
        "channel": "email",
        "variables": [*SITE_VARIABLES, "merchant_name", "amount", "reference", "expected_on"],
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
)


def register() -> None:
    events.register(PAYOUT_SENT, label="Payout sent", owner="payouts", templates=SENT)

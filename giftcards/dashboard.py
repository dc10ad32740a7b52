"""What gift cards show on the merchant dashboard: the programme in each currency and
the way to the till, the cards and the catalogue. Registered in ``GiftcardsConfig``."""

from __future__ import annotations

from typing import Any

from core.money import format_money
from core.panels import Panel
from giftcards.selectors import programme_summary
from merchants.models import Merchant

PANEL_TEMPLATE = "giftcards/_dashboard.html"


def dashboard_context(*, merchant: Merchant, **page: Any) -> dict[str, Any]:
    return {
        "summaries": [
            {
                "currency": row.currency,
                "outstanding": format_money(row.outstanding, row.currency),
                "live_cards": row.live_cards,
                "redeemed_today": format_money(row.redeemed_today, row.currency),
                "redemptions_today": row.redemptions_today,
                "issued_30d": format_money(row.issued_30d, row.currency),
                "cards_issued_30d": row.cards_issued_30d,
            }
            for row in programme_summary(merchant=merchant)
        ]
    }


PANEL = Panel(name="giftcards", template=PANEL_TEMPLATE, context=dashboard_context, order=10)

"""Demo data that later features add to ``seed_demo`` (products, cards, ...).

Each helper must be idempotent: running ``seed_demo`` twice changes nothing the
second time.
"""

from __future__ import annotations

from merchants.models import Merchant


def seed_extra(*, merchants: dict[str, Merchant]) -> list[str]:
    """Create feature demo data for ``merchants``; return lines to print."""
    return []

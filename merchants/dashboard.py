"""The panels of the merchant dashboard's start page.

Apps above merchants (gift cards, orders) register what they show there from their
``AppConfig.ready``; each panel's context function is called with ``merchant`` and
``membership`` (the viewer's)."""

from __future__ import annotations

from core.panels import PanelRegistry

dashboard_panels = PanelRegistry("merchant dashboard")

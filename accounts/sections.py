"""The sections of the signed-in person's account page below their profile.

Apps above accounts (merchants: where the person works; the wallet: their cards and
orders) register them from their ``AppConfig.ready``; each section's context function is
called with ``user``."""

from __future__ import annotations

from core.panels import PanelRegistry

account_sections = PanelRegistry("account page")

"""Pages that show parts owned by apps above them: a list of panels those apps register.

A page in a lower app (the merchant dashboard, the account page) cannot import the apps
that sit on it. It declares a ``PanelRegistry``; each app above registers a panel (its
own template and a function giving that template's context) from its ``AppConfig.ready``,
and the page renders the panels in their order. The lower app never names the upper one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    """One part of a page: ``template`` rendered with what ``context(**page)`` returns."""

    name: str
    template: str
    context: Callable[..., Mapping[str, Any]]
    order: int = 100


@dataclass(frozen=True)
class RenderedPanel:
    template: str
    context: Mapping[str, Any]


class PanelRegistry:
    """The panels of one page, each registered once by name (a re-registration replaces
    it, so a reloaded app does not show its panel twice)."""

    def __init__(self, page: str) -> None:
        self.page = page
        self._panels: dict[str, Panel] = {}

    def register(self, panel: Panel) -> None:
        self._panels[panel.name] = panel

    def panels(self) -> list[Panel]:
        return sorted(self._panels.values(), key=lambda panel: (panel.order, panel.name))

    def render(self, **page: Any) -> list[RenderedPanel]:
        """Each panel's template with its context, for the page's ``page`` values."""
        return [
            RenderedPanel(template=panel.template, context=panel.context(**page))
            for panel in self.panels()
        ]

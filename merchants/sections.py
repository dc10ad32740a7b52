"""What merchants show on the account page: where the person works, with their role.
Registered in ``MerchantsConfig.ready`` (see ``accounts.sections``)."""

from __future__ import annotations

from typing import Any

from accounts.models import User
from core.panels import Panel
from merchants.selectors import memberships_for_user


def workplaces_context(*, user: User, **page: Any) -> dict[str, Any]:
    return {"memberships": list(memberships_for_user(user=user))}


WORKPLACES = Panel(
    name="merchants",
    template="merchants/_account_section.html",
    context=workplaces_context,
    order=20,
)

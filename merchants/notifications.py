"""How an invitation reaches the invited address, without merchants importing the
messaging app that sits above it.

``merchants.services.invitation_send`` calls ``send_invitation``; the app that sends
messages fills it in at start-up (``communications.invitations``, from
``CommunicationsConfig.ready``). Without one, inviting fails loudly rather than
silently sending nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from merchants.models import Invitation

# Sends the invitation's email with its accept link (``url``); called inside the
# service's transaction, so a sender defers the delivery itself until after commit.
InvitationSender = Callable[[Invitation, str], None]

_sender: InvitationSender | None = None


def set_invitation_sender(sender: InvitationSender) -> None:
    global _sender
    _sender = sender


def send_invitation(invitation: Invitation, *, url: str) -> None:
    if _sender is None:
        raise ImproperlyConfigured("No app sends invitation emails: is communications installed?")
    _sender(invitation, url)

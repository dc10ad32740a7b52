"""The invitation to join a merchant, sent through the one send path: the event and its
shipped text, and the sender that ``merchants.notifications`` calls (merchants sit below
communications, so this app fills in their hook from ``CommunicationsConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone

from communications.events import SITE_VARIABLES, events
from communications.models import Channel
from communications.services import Recipient, send
from merchants.models import Invitation, Role
from merchants.notifications import set_invitation_sender

MERCHANT_INVITATION = "merchant_invitation"

INVITATION: tuple[dict[str, Any], ...] = (
    {
        "channel": "email",
        "variables": [
            *SITE_VARIABLES,
            "user_email",
            "merchant_name",
            "role",
            "invited_by",
            "accept_url",
            "expires_on",
        ],
        "sample": {
            "user_email": "ana@example.com",
            "merchant_name": "Bluebird Coffee",
            "role": "owner",
            "invited_by": "Olive Owner",
            "accept_url": "https://gifts.example.com/invitations/sample/",
            "expires_on": "11 Dec 2026",
        },
        "subject": "Join {{ merchant_name }} on {{ site_name }}",
        "text": "Hello,\n\n{{ invited_by }} invited {{ user_email }} to join {{ merchant_name }}"
        " on {{ site_name }} as {{ role }}.\n\nAccept the invitation here (the link works once,"
        " until {{ expires_on }}):\n\n{{ accept_url }}\n\nIf you did not expect this, you can"
        " ignore this message: nothing changes until the link is used.\n",
        "html": "<p>Hello,</p><p>{{ invited_by }} invited <strong>{{ user_email }}</strong> to"
        " join <strong>{{ merchant_name }}</strong> on {{ site_name }} as {{ role }}.</p>"
        '<p><a href="{{ accept_url }}">Accept the invitation</a></p><p>The link works once,'
        " until {{ expires_on }}. If you did not expect this, you can ignore this message:"
        " nothing changes until the link is used.</p>",
    },
)


def send_invitation_email(invitation: Invitation, url: str) -> None:
    inviter = invitation.invited_by
    expires = timezone.localtime(invitation.expires_at)
    send(
        MERCHANT_INVITATION,
        Recipient(email=invitation.email),
        {
            "user_email": invitation.email,
            "merchant_name": invitation.merchant.name,
            "role": Role(invitation.role).label.lower(),
            "invited_by": (inviter.get_full_name() if inviter else "") or settings.PLATFORM_NAME,
            "accept_url": url,
            "expires_on": f"{expires.day} {expires:%b %Y %H:%M %Z}",
        },
        channels=[Channel.EMAIL],
        merchant=invitation.merchant,
    )


def register() -> None:
    """Register the invitation event and send merchants' invitations (``ready``)."""
    events.register(
        MERCHANT_INVITATION,
        label="Merchant: invitation to join",
        owner="merchants",
        templates=INVITATION,
    )
    set_invitation_sender(send_invitation_email)

"""The one-time code message and the texts shipped for it, registered with communications
by ``OtpConfig.ready``. Its name is communications' own ``OTP_CODE``: the settings hold
the one-time codes' switch and the channels they may use."""

from __future__ import annotations

from typing import Any

from communications.events import OTP_CODE, SITE_VARIABLES, events

CODE: tuple[dict[str, Any], ...] = (
    {
        "channel": "sms",
        "variables": [*SITE_VARIABLES, "code", "minutes", "purpose"],
        "sample": {"code": "123456", "minutes": 10, "purpose": "sign-in"},
        "subject": "",
        "text": "{{ code }} is your {{ site_name }} {{ purpose }} code. It expires in"
        " {{ minutes }} minutes. Never share it.",
        "html": "",
    },
    {
        "channel": "email",
        "variables": [*SITE_VARIABLES, "code", "minutes", "purpose"],
        "sample": {"code": "123456", "minutes": 10, "purpose": "sign-in"},
        "subject": "Your {{ site_name }} {{ purpose }} code",
        "text": "Your {{ purpose }} code is {{ code }}. It expires in {{ minutes }} minutes."
        " Never share it with anyone.\n",
        "html": "<p>Your {{ purpose }} code is <strong>{{ code }}</strong>.</p><p>It expires"
        " in {{ minutes }} minutes. Never share it with anyone.</p>",
    },
)


def register() -> None:
    events.register(OTP_CODE, label="One-time code", owner="otp", templates=CODE)

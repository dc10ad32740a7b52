"""The texts the platform ships: version 1 of every registered event on every channel it
uses (``communications.events``: each app registers its events with their texts). This
module ships communications' own (the admins' test message, mail sent the Django way) and
installs them all: ``install_defaults`` only adds what is missing, so admins' edits are
never undone, and a template first asked for after its event was added is installed then.

When a shipped text improves, a data migration calls ``upgrade_shipped_default``: the
template gets the new text as its next version only while its active version is still
the text shipped before, untouched."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Max

from communications.events import SITE_VARIABLES, SYSTEM_EMAIL, TEST_MESSAGE, events

# The catch-all for mail sent the Django way as first shipped: its HTML part used the
# ``safe`` filter, which templates may no longer use. The gateway now passes that HTML
# (rendered and escaped by Django's own templates) as markup, so ``{{ html }}`` shows it.
SYSTEM_EMAIL_V1: dict[str, str] = {
    "subject": "{{ subject }}",
    "text": "{{ body }}",
    "html": "{{ html|safe }}",
}

TEST_MESSAGES: tuple[dict[str, Any], ...] = (
    *[
        {
            "channel": channel,
            "variables": [*SITE_VARIABLES, "channel", "sent_at"],
            "sample": {"channel": channel, "sent_at": "25 Nov 2026 14:00"},
            "subject": "{{ site_name }} test message",
            "text": "This is a test {{ channel }} message from {{ site_name }}, sent at"
            " {{ sent_at }}.",
            "html": "",
        }
        for channel in ("email", "sms", "push")
    ],
)

SYSTEM_EMAILS: tuple[dict[str, Any], ...] = (
    {
        "channel": "email",
        "variables": [*SITE_VARIABLES, "subject", "body", "html"],
        "sample": {"subject": "Server error", "body": "Details...", "html": ""},
        "subject": SYSTEM_EMAIL_V1["subject"],
        "text": SYSTEM_EMAIL_V1["text"],
        "html": "{{ html }}",
        "note": "Shipped default, without the safe filter",
    },
)


def register() -> None:
    """Register communications' own events (``CommunicationsConfig.ready``)."""
    events.register(
        TEST_MESSAGE, label="Test message", owner="communications", templates=TEST_MESSAGES
    )
    events.register(
        SYSTEM_EMAIL, label="Other platform email", owner="communications", templates=SYSTEM_EMAILS
    )


def install_defaults(template_model: Any, version_model: Any) -> int:
    """Create every missing default template with its version 1, active. Returns how many."""
    created = 0
    for spec in shipped_defaults():
        template, made = template_model.objects.get_or_create(
            event=spec["event"],
            channel=spec["channel"],
            defaults={"variables": spec["variables"], "sample_context": spec["sample"]},
        )
        if not made:
            continue
        version = version_model.objects.create(
            template=template,
            number=1,
            subject=spec["subject"],
            body_text=spec["text"],
            body_html=spec["html"],
            note="Shipped default",
        )
        template.active_version = version
        template.save(update_fields=["active_version"])
        created += 1
    return created


def shipped_defaults() -> list[dict[str, Any]]:
    """Every shipped text of every registered event, each with its ``event``."""
    return events.shipped_templates()


def shipped_default(event: str, channel: str) -> dict[str, Any]:
    return next(s for s in shipped_defaults() if (s["event"], s["channel"]) == (event, channel))


def upgrade_shipped_default(
    template_model: Any,
    version_model: Any,
    *,
    event: str,
    channel: str,
    previous: Mapping[str, str],
) -> bool:
    """Make the current shipped text of ``event``/``channel`` the template's next version,
    active, when its active version is version 1 with exactly the ``previous`` shipped
    text. An edited template (a later version active, or version 1 changed) is left as
    the admins made it. Returns whether a version was added."""
    template = template_model.objects.filter(event=event, channel=channel).first()
    if template is None or template.active_version_id is None:
        return False
    active = version_model.objects.get(pk=template.active_version_id)
    untouched = active.number == 1 and (
        active.subject,
        active.body_text,
        active.body_html,
    ) == (previous["subject"], previous["text"], previous["html"])
    if not untouched:
        return False
    spec = shipped_default(event, channel)
    last = version_model.objects.filter(template=template).aggregate(last=Max("number"))["last"]
    version = version_model.objects.create(
        template=template,
        number=(last or 0) + 1,
        subject=spec["subject"],
        body_text=spec["text"],
        body_html=spec["html"],
        note=spec.get("note", "Shipped default"),
    )
    template.active_version = version
    template.save(update_fields=["active_version"])
    return True

"""Writes to message templates (CM-4): save a version (published or as a draft), activate
any version, and send a test of a text being edited.

A version is saved only when every part parses, uses no ``include``/``import``/
``extends``/``from``/``autoescape`` tag, names only the template's declared variables,
uses only the allowed filters (never ``safe``), and renders within the channel's limits
with the template's sample data and with each variable it uses empty and not given: what
is saved can always be sent (``communications.rendering`` says why). Templates are read
from the database on every message (no cache), so the next message uses the version
that is active once the transaction commits.

A draft is saved the same way but does not become the active text; activating it later
publishes it. Every activation (publishing, a rollback, activating a draft or a later
version) is recorded with who and when (``TemplateActivation``): the editor's history, and
the order in which ``send`` looks for the last good version.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from accounts.models import User
from communications.events import TEST_MESSAGE
from communications.models import (
    ActivationKind,
    Channel,
    CommunicationLog,
    CommunicationTemplate,
    TemplateActivation,
    TemplateVersion,
)
from communications.rendering import LIMITS, Rendered, TemplateProblem, trial_render
from communications.services import Recipient, send
from communications.template_selectors import MessageText
from core.errors import UnprocessableError

logger = structlog.get_logger(__name__)

# (field name, label in messages, autoescaped)
PARTS: tuple[tuple[str, str, bool], ...] = (
    ("subject", "Subject", False),
    ("body_text", "Text body", False),
    ("body_html", "HTML body", True),
)
# The variables ``send`` itself fills, never empty.
ALWAYS_GIVEN = frozenset({"site_name"})


class TemplateRefused(UnprocessableError):
    """A template text that cannot be saved or activated; ``field`` names the part."""

    code = "template_refused"
    title = "The template cannot be used"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail, extra={"field": field})
        self.field = field


def sample_context(template: CommunicationTemplate) -> dict[str, Any]:
    """What a preview renders with: the sample values, and the site name ``send`` adds."""
    return {"site_name": settings.PLATFORM_NAME, **dict(template.sample_context or {})}


def template_preview(
    *, template: CommunicationTemplate, subject: str, body_text: str, body_html: str
) -> Rendered:
    """Render a candidate text with the template's sample data, without saving anything.
    Each part is also rendered with every variable it uses empty and not given. Raises
    ``TemplateRefused`` (naming the part and the case) for anything ``send`` could not
    render."""
    sources = {"subject": subject, "body_text": body_text, "body_html": body_html}
    if not body_text.strip():
        raise TemplateRefused("Text body: a message needs a text body.", field="body_text")
    if body_html.strip() and template.channel != Channel.EMAIL:
        raise TemplateRefused(
            "HTML body: only email messages have an HTML body.", field="body_html"
        )
    if template.channel == Channel.EMAIL and not subject.strip():
        raise TemplateRefused("Subject: an email needs a subject.", field="subject")
    declared = [str(name) for name in template.variables]
    limits = LIMITS[template.channel]
    caps = {"subject": limits.subject, "body_text": limits.text, "body_html": limits.html}
    shown: dict[str, str] = {}
    for name, label, html in PARTS:
        try:
            shown[name] = trial_render(
                sources[name],
                sample=sample_context(template),
                declared=declared,
                vary=set(declared) - ALWAYS_GIVEN,
                html=html,
                field=label,
                limit=caps[name],
            )
        except TemplateProblem as exc:
            raise TemplateRefused(str(exc), field=name) from None
    return Rendered(
        subject=" ".join(shown["subject"].split()), text=shown["body_text"], html=shown["body_html"]
    )


def _locked_template(template_id: int) -> CommunicationTemplate:
    # One writer at a time per template: version numbers are taken after this lock.
    return CommunicationTemplate.objects.select_for_update().get(pk=template_id)


def _activate(
    template: CommunicationTemplate, version: TemplateVersion, *, kind: str, actor: User | None
) -> None:
    """Make ``version`` the active text of the locked ``template`` and record it."""
    TemplateActivation.objects.create(
        template=template,
        version=version,
        previous_id=template.active_version_id,
        kind=kind,
        actor=actor,
    )
    if version.is_draft:
        version.is_draft = False
        version.save(update_fields=["is_draft"])
    template.active_version = version
    template.save(update_fields=["active_version", "updated_at"])


def template_version_create(
    *,
    template: CommunicationTemplate,
    subject: str,
    body_text: str,
    body_html: str,
    note: str,
    actor: User | None,
    publish: bool = True,
) -> TemplateVersion:
    """Save the text as the template's next version: the active one, or with
    ``publish=False`` a draft that changes nothing that is sent."""
    with transaction.atomic():
        locked = _locked_template(template.pk)
        template_preview(template=locked, subject=subject, body_text=body_text, body_html=body_html)
        last = locked.versions.aggregate(last=Max("number"))["last"] or 0
        version = TemplateVersion.objects.create(
            template=locked,
            number=last + 1,
            subject=subject,
            body_text=body_text,
            body_html=body_html,
            note=note,
            is_draft=not publish,
            created_by=actor,
        )
        if publish:
            _activate(locked, version, kind=ActivationKind.PUBLISHED, actor=actor)
    logger.info(
        "template_version_created",
        template_id=locked.pk,
        version=version.number,
        draft=not publish,
        actor_id=actor.pk if actor else None,
    )
    if publish:
        template.active_version = version
    return version


def template_version_activate(*, version: TemplateVersion, actor: User | None) -> TemplateVersion:
    """Make ``version`` the active text of its template (a rollback, a roll-forward or a
    draft published). The version must still render: its template's variables may have
    changed since."""
    with transaction.atomic():
        locked = _locked_template(version.template_id)
        current = TemplateVersion.objects.get(pk=version.pk, template=locked)
        template_preview(
            template=locked,
            subject=current.subject,
            body_text=current.body_text,
            body_html=current.body_html,
        )
        active = locked.active_version
        if current.is_draft:
            kind = ActivationKind.PUBLISHED
        elif active is not None and current.number < active.number:
            kind = ActivationKind.ROLLED_BACK
        else:
            kind = ActivationKind.ACTIVATED
        _activate(locked, current, kind=kind, actor=actor)
    logger.info(
        "template_version_activated",
        template_id=locked.pk,
        version=current.number,
        kind=kind,
        actor_id=actor.pk if actor else None,
    )
    return current


def template_test_send(
    *,
    template: CommunicationTemplate,
    subject: str,
    body_text: str,
    body_html: str,
    recipient: Recipient,
    recipient_masked: str,
    actor: User,
) -> CommunicationLog:
    """Send the text being edited, rendered with the sample data, to one address on the
    template's channel, without saving it. It goes as a test message through the same
    switches and limits as every message, and its log row says what it was."""
    rendered = template_preview(
        template=template, subject=subject, body_text=body_text, body_html=body_html
    )
    text = MessageText(
        rendered=rendered,
        template=template,
        version=None,
        note=f"test of the text being edited for {template}",
    )
    [log] = send(
        TEST_MESSAGE,
        recipient,
        sample_context(template),
        channels=[template.channel],
        text=text,
    )
    log.refresh_from_db()
    logger.info(
        "template_test_sent",
        actor_id=actor.pk,
        template_id=template.pk,
        channel=template.channel,
        recipient=recipient_masked,
        log_id=log.pk,
        status=log.status,
    )
    return log

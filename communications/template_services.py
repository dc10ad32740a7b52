"""Writes to message templates (CM-4): save a new version, activate any version.

A version is saved only when every part parses, uses no ``include``/``import``/
``extends``/``from``/``autoescape`` tag, names only the template's declared variables,
uses only the allowed filters (never ``safe``), and renders within the channel's limits
with the template's sample data and with each variable it uses empty and not given: what
is saved can always be sent (``communications.rendering`` says why). Templates are read
from the database on every message (no cache), so the next message uses the version
that is active once the transaction commits.

Every activation (saving, a rollback, activating a later version) is recorded with who
and when (``TemplateActivation``): the order in which ``send`` looks for the last good
version.
"""

from __future__ import annotations

from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Max

from accounts.models import User
from communications.models import (
    ActivationKind,
    Channel,
    CommunicationTemplate,
    TemplateActivation,
    TemplateVersion,
)
from communications.rendering import LIMITS, Rendered, TemplateProblem, trial_render
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
) -> TemplateVersion:
    """Save the text as the template's next version and make it the active one."""
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
            created_by=actor,
        )
        _activate(locked, version, kind=ActivationKind.PUBLISHED, actor=actor)
    logger.info(
        "template_version_created",
        template_id=locked.pk,
        version=version.number,
        actor_id=actor.pk if actor else None,
    )
    template.active_version = version
    return version


def template_version_activate(*, version: TemplateVersion, actor: User | None) -> TemplateVersion:
    """Make ``version`` the active text of its template (a rollback or a roll-forward).
    The version must still render: its template's variables may have changed since."""
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
        rolled_back = active is not None and current.number < active.number
        kind = ActivationKind.ROLLED_BACK if rolled_back else ActivationKind.ACTIVATED
        _activate(locked, current, kind=kind, actor=actor)
    logger.info(
        "template_version_activated",
        template_id=locked.pk,
        version=current.number,
        kind=kind,
        actor_id=actor.pk if actor else None,
    )
    return current

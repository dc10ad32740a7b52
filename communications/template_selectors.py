"""Reads of message templates (CM-4): the text a message goes out with, and the versions
and history the editor shows.

A message is rendered with its template's active version. When that version fails for
this message (a value it did not expect, a limit), the message goes out with the last
good text instead: the versions that were active before, most recent first, then the
text the platform ships; the caller's log row says which and why. Drafts, never
published, are never used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import structlog
from django.db.models import QuerySet
from django.db.models.functions import Left

from communications.defaults import shipped_defaults
from communications.models import CommunicationTemplate, TemplateActivation, TemplateVersion
from communications.rendering import LIMITS, Rendered, TemplateProblem, render

logger = structlog.get_logger(__name__)

# How many earlier versions a message tries before the shipped text: each try is a
# render, and a message must not wait on a long history.
FALLBACK_VERSIONS = 3
EXCERPT_CHARS = 160


@dataclass(frozen=True)
class MessageText:
    """A message's rendered parts and where they came from."""

    rendered: Rendered
    template: CommunicationTemplate | None
    # The version sent: None for the shipped text or a text not saved (a test).
    version: int | None
    # Why the text is not the template's active version, for the message's log row.
    note: str = ""


def _render_parts(
    template: CommunicationTemplate, *, subject: str, text: str, html: str, context: dict[str, Any]
) -> Rendered:
    return render(
        subject=subject,
        text=text,
        html=html,
        context=context,
        declared=[str(name) for name in template.variables],
        limits=LIMITS[template.channel],
    )


def _earlier_versions(template: CommunicationTemplate, *, failed: int) -> list[TemplateVersion]:
    """The versions active before, most recently active first, each once."""
    order: list[int] = []
    history = (
        TemplateActivation.objects.filter(template=template)
        .exclude(version_id=failed)
        .order_by("-created_at", "-id")
        .values_list("version_id", flat=True)
    )
    for version_id in history[: FALLBACK_VERSIONS * 10]:
        if version_id not in order:
            order.append(version_id)
        if len(order) == FALLBACK_VERSIONS:
            break
    found = TemplateVersion.objects.in_bulk(order)
    return [found[pk] for pk in order if pk in found]


def shipped_text(template: CommunicationTemplate) -> dict[str, Any] | None:
    """The text the platform ships for the template's event and channel, if any."""
    return next(
        (
            spec
            for spec in shipped_defaults()
            if (spec["event"], spec["channel"]) == (template.event, template.channel)
        ),
        None,
    )


def template_text_for_send(
    *, template: CommunicationTemplate, context: dict[str, Any]
) -> MessageText:
    """Render ``template``'s active version with ``context``; when it fails, the last good
    version, then the shipped text. Raises the active version's ``TemplateProblem`` when
    none renders."""
    active = template.active_version
    if active is None:
        raise TemplateProblem("The template has no active version.")
    try:
        rendered = _render_parts(
            template,
            subject=active.subject,
            text=active.body_text,
            html=active.body_html,
            context=context,
        )
    except TemplateProblem as problem:
        failure = problem
    else:
        return MessageText(rendered=rendered, template=template, version=active.number)
    failed = f"v{active.number} did not render ({failure})"
    for version in _earlier_versions(template, failed=active.pk):
        try:
            rendered = _render_parts(
                template,
                subject=version.subject,
                text=version.body_text,
                html=version.body_html,
                context=context,
            )
        except TemplateProblem:
            continue
        _log_fallback(template, failed=active.number, used=f"v{version.number}")
        return MessageText(
            rendered=rendered,
            template=template,
            version=version.number,
            note=f"sent with v{version.number}, the last good version: {failed}",
        )
    shipped = shipped_text(template)
    if shipped is not None:
        try:
            rendered = _render_parts(
                template,
                subject=shipped["subject"],
                text=shipped["text"],
                html=shipped["html"],
                context=context,
            )
        except TemplateProblem:
            pass
        else:
            _log_fallback(template, failed=active.number, used="shipped")
            return MessageText(
                rendered=rendered,
                template=template,
                version=None,
                note=f"sent with the shipped default text: {failed}",
            )
    raise failure


def _log_fallback(template: CommunicationTemplate, *, failed: int, used: str) -> None:
    # Numbers only: the failure's text stays on the message's log row.
    logger.warning("template_fallback", template_id=template.pk, failed_version=failed, used=used)


def template_versions(*, template: CommunicationTemplate, limit: int = 100) -> QuerySet[Any]:
    """The versions, newest first, with an excerpt of each body instead of the bodies."""
    return (
        template.versions.select_related("created_by")
        .defer("body_text", "body_html")
        .annotate(
            text_excerpt=Left("body_text", EXCERPT_CHARS + 1),
            html_excerpt=Left("body_html", EXCERPT_CHARS + 1),
        )
        .order_by("-number")[:limit]
    )


def template_history(
    *, template: CommunicationTemplate, limit: int = 50
) -> QuerySet[TemplateActivation]:
    """Activations and rollbacks, newest first: which version, from which, who, when."""
    return (
        TemplateActivation.objects.filter(template=template)
        .select_related("actor")
        .only(
            "kind",
            "created_at",
            "actor__email",
            "version__number",
            "previous__number",
        )
        .select_related("version", "previous")
        .order_by("-created_at", "-id")[:limit]
    )

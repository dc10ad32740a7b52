"""The shipped templates: every one installed, and every one renders with its own sample
data exactly as the editor would accept it; the buyer's order receipt among them."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps

from communications.defaults import shipped_default, shipped_defaults
from communications.models import CommunicationTemplate, Event, TemplateVersion
from communications.rendering import LIMITS, check, render
from communications.template_services import sample_context, template_preview

pytestmark = pytest.mark.django_db

PARTS = (("subject", False), ("text", False), ("html", True))


def _id(spec: dict[str, Any]) -> str:
    return f"{spec['event']}-{spec['channel']}"


@pytest.mark.parametrize("spec", shipped_defaults(), ids=_id)
def test_every_shipped_default_is_installed_and_renders_with_its_sample(
    spec: dict[str, Any],
) -> None:
    template = CommunicationTemplate.objects.select_related("active_version").get(
        event=spec["event"], channel=spec["channel"]
    )
    active = template.active_version
    assert active is not None
    assert (active.subject, active.body_text, active.body_html) == (
        spec["subject"],
        spec["text"],
        spec["html"],
    )
    assert template.variables == spec["variables"]
    for part, html in PARTS:
        check(spec[part], declared=spec["variables"], html=html, field=part)

    rendered = template_preview(
        template=template,
        subject=active.subject,
        body_text=active.body_text,
        body_html=active.body_html,
    )

    assert rendered.text.strip()
    assert "{{" not in rendered.text + rendered.subject + rendered.html
    assert "{%" not in rendered.text + rendered.subject + rendered.html


def test_every_event_has_a_shipped_default() -> None:
    shipped = {spec["event"] for spec in shipped_defaults()}
    assert shipped == set(Event.values)


def test_the_order_receipt_lists_each_line_of_its_sample() -> None:
    spec = shipped_default(Event.ORDER_RECEIPT, "email")
    template = CommunicationTemplate.objects.get(event=Event.ORDER_RECEIPT, channel="email")

    rendered = render(
        subject=spec["subject"],
        text=spec["text"],
        html=spec["html"],
        context=sample_context(template),
        declared=spec["variables"],
        limits=LIMITS["email"],
    )

    assert rendered.subject == "Your receipt from Bluebird"
    assert "2 x Coffee card at €25.00 each, for you: €50.00" in rendered.text
    assert "1 x Coffee card at €50.00 each, for Ana: €50.00" in rendered.text
    assert "Delivery: 24 Dec 2026, 09:00 (Europe/Paris)" in rendered.text
    assert "Total: €100.00" in rendered.text
    assert "https://gifts.example.com/orders/ord_sample/?t=sample" in rendered.text
    assert rendered.html.count("<tr><td>") == 2
    assert '<a href="https://gifts.example.com/orders/ord_sample/?t=sample">' in rendered.html


def test_the_order_receipt_escapes_what_the_buyer_typed_in_its_html() -> None:
    spec = shipped_default(Event.ORDER_RECEIPT, "email")
    context = {
        **spec["sample"],
        "site_name": "Giftwell",
        "lines": [{**spec["sample"]["lines"][0], "recipient": "<b>Ana</b>"}],
    }

    rendered = render(
        subject=spec["subject"],
        text=spec["text"],
        html=spec["html"],
        context=context,
        declared=spec["variables"],
        limits=LIMITS["email"],
    )

    assert "<b>Ana</b>" not in rendered.html
    assert "&lt;b&gt;Ana&lt;/b&gt;" in rendered.html


def test_the_migration_installs_the_order_receipt_where_it_is_missing() -> None:
    CommunicationTemplate.objects.filter(event=Event.ORDER_RECEIPT).update(active_version=None)
    CommunicationTemplate.objects.filter(event=Event.ORDER_RECEIPT).delete()
    others = TemplateVersion.objects.count()
    migration = importlib.import_module("communications.migrations.0007_order_receipt_template")

    migration.forwards(apps, None)

    template = CommunicationTemplate.objects.get(event=Event.ORDER_RECEIPT, channel="email")
    assert template.active_version is not None
    assert template.active_version.number == 1
    assert template.active_version.subject == "Your receipt from {{ merchant_name }}"
    assert TemplateVersion.objects.count() == others + 1

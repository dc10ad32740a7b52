"""What an admin's template may use (CM-4): declared variables, a fixed list of filters,
and never anything that turns escaping off, checked when a version is saved and again
every time one is rendered. What a buyer typed is escaped in HTML whatever the template."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from communications.defaults import SYSTEM_EMAIL_V1
from communications.models import (
    CommunicationLog,
    CommunicationTemplate,
    Event,
    MessageStatus,
    TemplateVersion,
)
from communications.rendering import (
    ALLOWED_FILTERS,
    TemplateProblem,
    check,
    render,
    render_one,
)
from communications.services import Recipient, send
from communications.template_services import TemplateRefused, template_version_create

pytestmark = pytest.mark.django_db

ANA = Recipient(email="ana@example.com")
BUYER_TEXT = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
CARD = {
    "recipient_name": "Ana",
    "sender_name": "Ben",
    "merchant_name": "Bluebird",
    "amount": "€25.00",
    "code": "7KQ2-M9XD-4HTR-ZB6W",
    "message": BUYER_TEXT,
    "card_url": "https://gifts.example.com/gift/t/abc/",
    "expires_on": "1 Jan 2030",
}
DECLARED = ["site_name", *CARD]

# (template text, what the refusal says)
REFUSED = [
    ("{{ message|safe }}", "'safe' filter is not allowed"),
    ("{% filter safe %}{{ message }}{% endfilter %}", "'safe' filter is not allowed"),
    ("{% autoescape false %}{{ message }}{% endautoescape %}", "'autoescape' tag"),
    ("{% autoescape true %}{{ message }}{% endautoescape %}", "'autoescape' tag"),
    ("{{ Markup(message) }}", "unknown variable(s) Markup"),
    ("{{ range(3) }}", "unknown variable(s) range"),
    ("{% for i in range(99999) %}{{ message }}{% endfor %}", "unknown variable(s) range"),
    ("{{ lipsum(100) }}", "unknown variable(s) lipsum"),
    ("{% set c = cycler('a', 'b') %}{{ c.next() }}", "unknown variable(s) cycler"),
    ("{% set j = joiner() %}{{ j() }}", "unknown variable(s) joiner"),
    ("{% set ns = namespace(x=message) %}{{ ns.x }}", "unknown variable(s) namespace"),
    ("{{ dict(a=message) }}", "unknown variable(s) dict"),
    ("{{ self }}", "unknown variable(s) self"),
    ("{% block b %}x{% endblock %}{{ self.b() }}", "unknown variable(s) self"),
    ('{{ "%s"|format(message) }}', "'format' filter is not allowed"),
    ('{{ message|attr("upper") }}', "'attr' filter is not allowed"),
    ('{{ [message]|map("upper") }}', "'map' filter is not allowed"),
    ("{{ {'a': message}|xmlattr }}", "'xmlattr' filter is not allowed"),
    ("{{ message|tojson }}", "'tojson' filter is not allowed"),
    ("{{ message|urlize }}", "'urlize' filter is not allowed"),
    ("{{ message|pprint }}", "'pprint' filter is not allowed"),
    ("{% include 'x.html' %}", "'include' tag is not allowed"),
]


def _ids(cases: list[tuple[str, str]]) -> list[str]:
    return [source for source, _ in cases]


def gift_card_email() -> CommunicationTemplate:
    return CommunicationTemplate.objects.select_related("active_version").get(
        event=Event.GIFT_CARD_DELIVERED, channel="email"
    )


def snapshot(template: CommunicationTemplate) -> tuple[int, int | None]:
    template.refresh_from_db()
    return template.versions.count(), template.active_version_id


def saved_before_the_rules(template: CommunicationTemplate, **parts: str) -> TemplateVersion:
    """A version written as an older release could save it: without today's checks."""
    assert template.active_version is not None
    active = template.active_version
    version = TemplateVersion.objects.create(
        template=template,
        number=template.versions.count() + 1,
        subject=parts.get("subject", active.subject),
        body_text=parts.get("body_text", active.body_text),
        body_html=parts.get("body_html", active.body_html),
        note="saved by an older release",
    )
    template.active_version = version
    template.save(update_fields=["active_version"])
    return version


@pytest.mark.parametrize(("source", "reason"), REFUSED, ids=_ids(REFUSED))
@pytest.mark.parametrize("html", [True, False], ids=["html", "text"])
def test_the_check_refuses_each_unsafe_construct(source: str, reason: str, html: bool) -> None:
    with pytest.raises(TemplateProblem, match=reason.replace("(", r"\(").replace(")", r"\)")):
        check(source, declared=DECLARED, html=html, field="HTML body")


@pytest.mark.parametrize(("source", "reason"), REFUSED, ids=_ids(REFUSED))
def test_saving_refuses_each_unsafe_construct_and_changes_nothing(source: str, reason: str) -> None:
    template = gift_card_email()
    before = snapshot(template)
    assert template.active_version is not None

    with pytest.raises(TemplateRefused) as refused:
        template_version_create(
            template=template,
            subject=template.active_version.subject,
            body_text=template.active_version.body_text,
            body_html=f"<p>{source}</p>",
            note="",
            actor=None,
        )

    assert refused.value.field == "body_html"
    assert refused.value.detail.startswith("HTML body: ")
    assert reason in refused.value.detail
    assert snapshot(template) == before


@pytest.mark.parametrize(("source", "reason"), REFUSED, ids=_ids(REFUSED))
def test_rendering_refuses_each_unsafe_construct_whenever_it_was_saved(
    source: str, reason: str
) -> None:
    with pytest.raises(TemplateProblem, match="HTML body") as problem:
        render(subject="Hi", text="Hi", html=source, context=CARD, declared=DECLARED)
    assert reason in str(problem.value)


def test_a_version_saved_before_the_rules_fails_to_send_and_is_logged(
    django_capture_on_commit_callbacks: Any,
) -> None:
    template = gift_card_email()
    version = saved_before_the_rules(
        template, body_html="<blockquote>{{ message|safe }}</blockquote>"
    )

    with django_capture_on_commit_callbacks(execute=True):
        [log] = send(Event.GIFT_CARD_DELIVERED, ANA, CARD)

    log.refresh_from_db()
    assert log.status == MessageStatus.FAILED
    assert log.reason == "template error"
    assert "'safe' filter is not allowed" in log.error
    assert log.template_version == version.number
    assert log.payload == ""
    assert mail.outbox == []


def test_a_template_error_on_a_later_render_is_a_failed_message_not_a_crash(
    django_capture_on_commit_callbacks: Any,
) -> None:
    template = gift_card_email()
    saved_before_the_rules(template, body_html="{{ message|truncate(1) }}{{ 1 // 0 }}")

    with django_capture_on_commit_callbacks(execute=True):
        [log] = send(Event.GIFT_CARD_DELIVERED, ANA, CARD)

    log.refresh_from_db()
    assert log.status == MessageStatus.FAILED
    assert "could not be rendered" in log.error
    assert mail.outbox == []


# Allowed templates that show the buyer's message, one way or another.
SHOWING_THE_MESSAGE = [
    "{{ message }}",
    *(
        f"{{{{ message|{name} }}}}"
        for name in ALLOWED_FILTERS
        if name not in ("length", "round", "int", "truncate", "replace")
    ),
    "{{ message|truncate(300) }}",
    '{{ message|replace("x", "y") }}',
    '{{ message|e|replace("&lt;", "<") }}',
    "{{ message|e|striptags }}",
    '{{ message|default("no message")|title }}',
    "{{ message ~ '!' }}",
    '{{ ("%s"|e) % message }}',
    '{{ ("{0}"|e).format(message) }}',
    '{{ "{0}".format(message) }}',
    "{{ (message|e).unescape() }}",
    "{% set m = message %}{{ m }}",
    "{% set m %}{{ message }}{% endset %}{{ m|striptags }}",
    "{% filter upper %}{{ message }}{% endfilter %}",
    "{% macro show(text) %}<q>{{ text }}</q>{% endmacro %}{{ show(message) }}",
    "{% for word in message.split(' ') %}{{ word }} {% endfor %}",
    '<a title="{{ message }}" href="{{ card_url }}">{{ message[0:40] }}</a>',
]


@pytest.mark.parametrize("source", SHOWING_THE_MESSAGE)
def test_buyer_text_is_escaped_in_html_whatever_the_allowed_template(source: str) -> None:
    check(source, declared=DECLARED, html=True, field="HTML body")

    rendered = render(
        subject="Hi", text="{{ message }}", html=source, context=CARD, declared=DECLARED
    )

    shown = rendered.html.lower()
    assert "<script" not in shown
    assert "<img" not in shown
    assert '">' not in shown.replace('href="https://gifts.example.com/gift/t/abc/">', "")
    assert rendered.text == BUYER_TEXT  # the text part is not HTML: shown as typed


def test_a_gift_message_is_escaped_in_the_email_sent(
    django_capture_on_commit_callbacks: Any,
) -> None:
    template = gift_card_email()
    assert template.active_version is not None
    template_version_create(
        template=template,
        subject=template.active_version.subject,
        body_text=template.active_version.body_text,
        body_html="<p>{{ message|upper }}</p><p>{{ message|striptags }}</p>"
        "{% filter trim %}<blockquote>{{ message }}</blockquote>{% endfilter %}",
        note="three ways to show the message",
        actor=None,
    )

    with django_capture_on_commit_callbacks(execute=True):
        [log] = send(Event.GIFT_CARD_DELIVERED, ANA, CARD)

    log.refresh_from_db()
    assert log.status == MessageStatus.SENT
    [email] = mail.outbox
    html = email.alternatives[0][0]
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert BUYER_TEXT in email.body


# Arguments for the allowed filters that need them, and which sample value each takes.
FILTER_USES = {"truncate": "purpose|truncate(5)", "replace": 'purpose|replace("-", " ")'}


def test_every_allowed_filter_can_be_used() -> None:
    source = " ".join(
        "{{ "
        + FILTER_USES.get(name, f"{'minutes' if name in ('round', 'int') else 'purpose'}|{name}")
        + " }}"
        for name in ALLOWED_FILTERS
    )
    declared = ["purpose", "minutes"]
    check(source, declared=declared, html=True)

    rendered = render(
        subject="x",
        text=source,
        html=source,
        context={"purpose": "sign-in code", "minutes": 10},
        declared=declared,
    )

    assert "SIGN-IN CODE" in rendered.text
    assert "sign in code" in rendered.text
    assert "10" in rendered.html


def test_the_system_email_shows_the_html_django_built(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "communications.mail.GatewayEmailBackend"
    message = EmailMultiAlternatives("Server error", "a <b> in text", None, ["ops@example.com"])
    message.attach_alternative("<p>Report: <b>500</b> &lt;script&gt;</p>", "text/html")

    with django_capture_on_commit_callbacks(execute=True):
        assert message.send() == 1

    [email] = mail.outbox
    assert email.alternatives[0][0] == "<p>Report: <b>500</b> &lt;script&gt;</p>"
    assert email.body == "a <b> in text"


def test_the_system_email_as_first_shipped_is_upgraded_and_an_edited_one_fails() -> None:
    template = CommunicationTemplate.objects.get(event=Event.SYSTEM_EMAIL, channel="email")
    TemplateVersion.objects.filter(template=template).update(body_html=SYSTEM_EMAIL_V1["html"])
    migration = importlib.import_module(
        "communications.migrations.0008_system_email_without_safe_filter"
    )

    migration.forwards(apps, None)

    template.refresh_from_db()
    assert template.active_version is not None
    assert (template.active_version.number, template.active_version.body_html) == (2, "{{ html }}")
    context = {"subject": "s", "body": "b", "html": "<b>x</b>"}
    assert (
        render(
            subject="{{ subject }}",
            text="{{ body }}",
            html=template.active_version.body_html,
            context=context,
            declared=template.variables,
        ).html
        == "&lt;b&gt;x&lt;/b&gt;"
    )  # a plain string is escaped: only the gateway's markup is not

    edited = saved_before_the_rules(template, body_html="<div>{{ html|safe }}</div>")
    migration.forwards(apps, None)
    template.refresh_from_db()
    assert template.active_version == edited  # an admin's edit is left as they made it
    logs = send(Event.SYSTEM_EMAIL, Recipient(email="ops@example.com"), context)
    assert [(log.status, log.reason) for log in logs] == [(MessageStatus.FAILED, "template error")]
    assert CommunicationLog.objects.filter(status=MessageStatus.FAILED).count() == 1


def test_a_render_error_never_quotes_a_value_of_the_message() -> None:
    code = "ABCD-EFGH-JKMN-PQRS"
    with pytest.raises(TemplateProblem) as excinfo:
        render_one("{{ {}[code] }}", {"code": code}, declared=["code"])
    assert code not in str(excinfo.value)
    assert "[value]" in str(excinfo.value)
    assert excinfo.value.__cause__ is None  # no traceback that would carry it either

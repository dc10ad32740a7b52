"""What an admin's template may use (CM-4): declared variables, a fixed list of filters,
and never anything that turns escaping off, checked when a version is saved and again
every time one is rendered. What a buyer typed is escaped in HTML whatever the template."""

from __future__ import annotations

import importlib
import re
import time
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
    LIMITS,
    TemplateProblem,
    check,
    render,
    render_one,
    trial_render,
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
        render(
            subject="Hi",
            text="Hi",
            html=source,
            context=CARD,
            declared=DECLARED,
            limits=LIMITS["email"],
        )
    assert reason in str(problem.value)


def test_a_version_saved_before_the_rules_is_not_sent_the_last_good_one_is(
    django_capture_on_commit_callbacks: Any,
) -> None:
    template = gift_card_email()
    shipped = template.active_version
    assert shipped is not None
    version = saved_before_the_rules(
        template, body_html="<blockquote>{{ message|safe }}</blockquote>"
    )

    with django_capture_on_commit_callbacks(execute=True):
        [log] = send(Event.GIFT_CARD_DELIVERED, ANA, CARD)

    log.refresh_from_db()
    assert log.status == MessageStatus.SENT
    assert log.template_version == shipped.number
    assert log.reason.startswith(f"sent with v{shipped.number}, the last good version: ")
    assert f"v{version.number} did not render" in log.reason
    assert "'safe' filter is not allowed" in log.reason
    [email] = mail.outbox
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.alternatives[0][0]


def test_a_message_no_text_can_render_fails_and_is_logged(
    django_capture_on_commit_callbacks: Any,
) -> None:
    template = gift_card_email()
    version = saved_before_the_rules(
        template,
        subject="A gift",
        body_text="{{ message }}",
        body_html="<p>{{ message }}{{ 1 // 0 }}</p>",
    )
    # Neither the earlier versions nor the shipped text render without these variables.
    template.variables = ["site_name", "message"]
    template.save(update_fields=["variables"])

    with django_capture_on_commit_callbacks(execute=True):
        [log] = send(Event.GIFT_CARD_DELIVERED, ANA, CARD)

    log.refresh_from_db()
    assert log.status == MessageStatus.FAILED
    assert log.reason == "template error"
    assert "HTML body: could not be rendered: integer division or modulo by zero" in log.error
    assert log.template_version == version.number
    assert log.payload == ""
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
        subject="Hi",
        text="{{ message }}",
        html=source,
        context=CARD,
        declared=DECLARED,
        limits=LIMITS["email"],
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
        limits=LIMITS["email"],
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
            limits=LIMITS["email"],
        ).html
        == "&lt;b&gt;x&lt;/b&gt;"
    )  # a plain string is escaped: only the gateway's markup is not

    edited = saved_before_the_rules(template, body_html="<div>{{ html|safe }}</div>")
    migration.forwards(apps, None)
    template.refresh_from_db()
    assert template.active_version == edited  # an admin's edit is left as they made it
    # The edit fails to render, and so does version 1 (the old text, active before): the
    # message goes out with the text shipped today.
    [log] = send(Event.SYSTEM_EMAIL, Recipient(email="ops@example.com"), context)
    log.refresh_from_db()
    assert log.status == MessageStatus.SENT
    assert log.template_version is None
    assert log.reason.startswith("sent with the shipped default text: v3 did not render")
    assert mail.outbox[-1].alternatives[0][0] == "&lt;b&gt;x&lt;/b&gt;"
    assert not CommunicationLog.objects.filter(status=MessageStatus.FAILED).exists()


def test_a_render_error_never_quotes_a_value_of_the_message() -> None:
    code = "ABCD-EFGH-JKMN-PQRS"
    with pytest.raises(TemplateProblem) as excinfo:
        render_one("{{ {}[code] }}", {"code": code}, declared=["code"])
    assert code not in str(excinfo.value)
    assert "[value]" in str(excinfo.value)
    assert excinfo.value.__cause__ is None  # no traceback that would carry it either


# --- Limits: what a template can cost (the editor measured 100 MB pages and 500s) -----

LONG = "Happy birthday, with love from all of us! " * 24  # about 1,000 characters


def _doubled(times: int) -> str:
    """``{% set v1 = message ~ message %}`` ... each step doubling the last."""
    steps = "".join(f"{{% set v{n} = v{n - 1} ~ v{n - 1} %}}" for n in range(1, times + 1))
    return "{% set v0 = message %}" + steps + f"{{{{ v{times}|length }}}}"


# (what the template does, its text, what the refusal says)
COSTLY = [
    ("repeat a literal", "{{ 'a' * 100000000 }}", "repeats a text or a list past 262,144"),
    ("repeat a value", "{{ message * 100000000 }}", "repeats a text or a list past 262,144"),
    ("repeat a list", "{{ ([message] * 100000000)|length }}", "repeats a text or a list"),
    ("a huge number", "{{ 9 ** 9 ** 9 ** 9 }}", "builds a number larger than"),
    ("a wide % format", "{{ '%100000000s' % message }}", "formats with a width larger than"),
    ("a wide format()", "{{ '{:>100000000}'.format(message) }}", "formats with a width larger"),
    ("padding", "{{ message.center(100000000) }}", "pads a text past 262,144"),
    (
        "replace filter",
        "{{ message|replace('a', message)|replace('a', message)|replace('a', message) }}",
        "replaces into a text longer than 262,144",
    ),
    (
        "replace method",
        "{{ message.replace('a', message).replace('a', message).replace('a', message) }}",
        "replaces into a text longer than 262,144",
    ),
    ("join", "{{ message.join(message).join(message) }}", "joins into a text longer than"),
    ("doubling with ~", _doubled(40), "builds a text or a list longer than 262,144"),
    (
        "a macro doubling itself",
        "{% macro m(s) %}{{ m(s ~ s) }}{% endmacro %}{{ m(message) }}",
        "longer than 262,144",
    ),
    (
        "a set block doubling itself",
        "{% macro m(s) %}{% set t %}{{ s }}{{ s }}{% endset %}{{ m(t) }}{% endmacro %}"
        "{{ m(message) }}",
        "builds a text longer than 262,144",
    ),
    (
        "nested loops",
        "{% for a in message %}{% for b in message %}{% for c in message %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        "takes too much work to render",
    ),
    (
        "loops comparing long texts",
        "{% set a = message * 200 %}{% for x in a %}{% if a == x ~ a %}!{% endif %}{% endfor %}",
        "takes too much work to render",
    ),
    (
        "nested lists shown",
        "{% set a = [message, message] %}{% set b = [a, a] %}{{ b }}",
        "shows a list or a mapping as text",
    ),
    ("translate", "{{ message.translate({97: message}) }}", "calls translate(), which messages"),
    (
        "wordwrap",
        "{{ message|wordwrap(1, wrapstring=message ~ message ~ message) }}",
        "wraps into a text longer than 262,144",
    ),
    (
        "a recursive loop",
        "{% for c in message recursive %}{{ loop(message) }}{% endfor %}",
        "recursive loops are not allowed",
    ),
    ("deep nesting", "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "it nests too deeply"),
    (
        "a long chain",
        "{{ " + " and ".join(["message"] * 3000) + " }}",
        "it nests too deeply",
    ),
    ("a 5,000-digit number", "{{ " + "9" * 5000 + " }}", "holds a number too long"),
    ("a division by zero", "{{ 1/0 }}", "could not be rendered: division by zero"),
    ("range", "{% for i in range(100000000) %}x{% endfor %}", "unknown variable(s) range"),
    ("a text too long to edit", "x" * 100_001, "is longer than 100,000 characters"),
]


@pytest.mark.parametrize(
    ("source", "reason"), [case[1:] for case in COSTLY], ids=[case[0] for case in COSTLY]
)
def test_a_costly_template_is_refused_quickly_while_rendering(source: str, reason: str) -> None:
    started = time.monotonic()

    with pytest.raises(TemplateProblem) as problem:
        render_one(source, {"message": LONG}, declared=["message"], field="Text body")

    assert reason in str(problem.value)
    assert str(problem.value).startswith("Text body: ")
    assert time.monotonic() - started < 2  # nothing ran long or built a huge text first


@pytest.mark.parametrize(
    ("source", "reason"), [case[1:] for case in COSTLY], ids=[case[0] for case in COSTLY]
)
def test_a_costly_template_is_refused_when_saved_and_nothing_changes(
    source: str, reason: str
) -> None:
    template = gift_card_email()
    template.sample_context = {**template.sample_context, "message": LONG}
    template.save(update_fields=["sample_context"])
    before = snapshot(template)

    with pytest.raises(TemplateRefused) as refused:
        template_version_create(
            template=template,
            subject="A gift",
            body_text=source,
            body_html="",
            note="",
            actor=None,
        )

    assert refused.value.field == "body_text"
    assert reason in refused.value.detail
    assert snapshot(template) == before


def test_a_part_stops_at_its_channels_cap_while_rendering() -> None:
    # Without the cap this would write ten billion characters before anyone measured it.
    source = "{% for c in message %}{{ message }}{% endfor %}"
    started = time.monotonic()

    with pytest.raises(TemplateProblem, match="longer than 1,600 characters"):
        render_one(source, {"message": "x" * 100_000}, declared=["message"], limit=1_600)

    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    ("channel", "part", "cap"),
    [("sms", "text", 1_600), ("email", "subject", 998), ("push", "text", 1_000)],
)
def test_each_channel_has_its_cap(channel: str, part: str, cap: int) -> None:
    parts = {"subject": "Hi", "text": "Hi", "html": ""}

    at_cap = render(
        **{**parts, part: "{{ code }}" + "x" * (cap - 6)},
        context={"code": "123456"},
        declared=["code"],
        limits=LIMITS[channel],
    )
    assert len(getattr(at_cap, part)) == cap
    with pytest.raises(TemplateProblem, match=f"longer than {cap:,} characters"):
        render(
            **{**parts, part: "{{ code }}" + "x" * (cap - 5)},
            context={"code": "123456"},
            declared=["code"],
            limits=LIMITS[channel],
        )


def test_a_receipt_with_many_lines_still_renders() -> None:
    template = CommunicationTemplate.objects.get(event=Event.ORDER_RECEIPT, channel="email")
    assert template.active_version is not None
    line = {
        "product": "Coffee card",
        "amount": "€25.00",
        "quantity": 2,
        "subtotal": "€50.00",
        "recipient": "you",
        "delivery": "At once",
    }
    context = {**template.sample_context, "site_name": "Giftwell", "lines": [line] * 200}

    rendered = render(
        subject=template.active_version.subject,
        text=template.active_version.body_text,
        html=template.active_version.body_html,
        context=context,
        declared=template.variables,
        limits=LIMITS["email"],
    )

    assert rendered.text.count("2 x Coffee card at €25.00 each") == 200
    assert rendered.html.count("<tr><td>Coffee card</td>") == 200


# --- Empty and absent variables ------------------------------------------------------


def test_a_text_that_fails_for_a_gift_without_a_message_is_refused_when_saved() -> None:
    template = gift_card_email()
    before = snapshot(template)
    assert template.active_version is not None

    with pytest.raises(TemplateRefused) as refused:
        template_version_create(
            template=template,
            subject=template.active_version.subject,
            body_text="{{ message[3] }}",  # fine with the sample's message
            body_html="",
            note="",
            actor=None,
        )

    assert refused.value.field == "body_text"
    assert refused.value.detail == (
        "Text body: could not be rendered: str object has no element 3 (when message is empty)."
    )
    assert snapshot(template) == before


@pytest.mark.parametrize(
    ("source", "case"),
    [
        ("{{ message.upper() }}", "when message is not given"),
        ("{{ minutes * 60 }}", "when minutes is not given"),
        ("{{ 60 // minutes }}", "when minutes is empty"),
        ("{{ lines[0].product }}", "when lines is empty"),
    ],
)
def test_each_variable_is_tried_empty_and_not_given(source: str, case: str) -> None:
    with pytest.raises(TemplateProblem, match=re.escape(f"({case}).")):
        trial_render(
            source,
            sample={"message": "Enjoy!", "minutes": 10, "lines": [{"product": "Card"}]},
            declared=["message", "minutes", "lines"],
            vary=["message", "minutes", "lines"],
            html=False,
            field="Text body",
            limit=1_600,
        )


def test_a_text_that_guards_its_variables_is_accepted() -> None:
    source = (
        "{% if message %}“{{ message[0:3] }}”{% endif %}{{ message|default('No message') }}"
        "{% for line in lines %}{{ line.product }}{% endfor %}{{ (minutes or 0) * 60 }}"
    )

    shown = trial_render(
        source,
        sample={"message": "Enjoy!", "minutes": 10, "lines": [{"product": "Card"}]},
        declared=["message", "minutes", "lines"],
        vary=["message", "minutes", "lines"],
        html=True,
        field="HTML body",
        limit=1_000,
    )

    assert shown == "“Enj”Enjoy!Card600"


def test_a_variable_the_sender_leaves_out_is_shown_as_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    template = gift_card_email()
    without_message = {name: value for name, value in CARD.items() if name != "message"}

    with django_capture_on_commit_callbacks(execute=True):
        [log] = send(Event.GIFT_CARD_DELIVERED, ANA, without_message)

    log.refresh_from_db()
    assert log.status == MessageStatus.SENT
    assert log.template_version == template.active_version.number  # no fallback needed
    assert log.reason == ""
    [email] = mail.outbox
    assert "<blockquote></blockquote>" in email.alternatives[0][0]
    assert "None" not in email.body

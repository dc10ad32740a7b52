"""Events are registered by the apps that own them; communications names none of theirs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from communications.events import EventRegistry, events
from communications.models import CommunicationLog, CommunicationTemplate, Event

ROOT = Path(__file__).resolve().parents[2]

EMAIL = {
    "channel": "email",
    "variables": ["site_name"],
    "sample": {},
    "subject": "Hi",
    "text": "Hello",
    "html": "",
}


@pytest.mark.parametrize(
    ("event", "owner"),
    [
        ("gift_card_delivered", "giftcards"),
        ("redemption_receipt", "giftcards"),
        ("order_receipt", "orders"),
        ("payout_sent", "payouts"),
        ("otp_code", "otp"),
        ("merchant_invitation", "merchants"),
        ("password_reset", "accounts"),
        ("test_message", "communications"),
    ],
)
def test_each_event_is_registered_for_its_owner_with_its_texts(event: str, owner: str) -> None:
    found = events.get(event)
    assert found is not None
    assert found.owner == owner
    assert found.templates, "an event ships a text for at least one channel"


def test_the_registry_reads_as_the_old_enum() -> None:
    assert Event.ORDER_RECEIPT == "order_receipt"
    assert ("order_receipt", "Order receipt") in Event.choices
    assert "order_receipt" in Event.values
    with pytest.raises(AttributeError):
        _ = Event.NO_SUCH_EVENT


def test_a_new_event_is_a_choice_at_once_without_a_migration() -> None:
    field = CommunicationTemplate._meta.get_field("event")
    with pytest.raises(ValidationError):
        field.clean("brand_new_event", None)
    events.register("brand_new_event", label="Brand new", owner="tests", templates=[EMAIL])
    try:
        assert field.clean("brand_new_event", None) == "brand_new_event"
    finally:
        events._events.pop("brand_new_event")


def test_a_row_of_an_event_nobody_registers_keeps_working() -> None:
    log = CommunicationLog(event="retired_event", channel="email")
    assert log.get_event_display() == "retired_event"
    assert events.label("retired_event") == "retired_event"


@pytest.mark.parametrize(
    ("name", "templates", "message"),
    [
        ("Bad Name", [], "lower-case"),
        ("x" * 41, [], "40 at most"),
        ("ok_name", [{"channel": "email"}], "lacks"),
        ("ok_name", [{**EMAIL, "channel": "fax"}], "unknown channel"),
        ("ok_name", [EMAIL, EMAIL], "one shipped template per channel"),
    ],
)
def test_a_malformed_registration_is_refused(name: str, templates: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EventRegistry().register(name, label="x", owner="tests", templates=templates)


def test_another_app_cannot_take_an_event_over() -> None:
    registry = EventRegistry()
    registry.register("receipt", label="Receipt", owner="orders")
    registry.register("receipt", label="Receipt again", owner="orders")  # a second ready()
    assert registry.label("receipt") == "Receipt again"
    with pytest.raises(ValueError, match="already registered by orders"):
        registry.register("receipt", label="Mine", owner="payouts")


def test_communications_names_no_event_of_the_apps_above_it() -> None:
    theirs = {
        event.name
        for event in (events.get(name) for name in events.values)
        if event is not None and event.owner in {"giftcards", "orders", "payouts"}
    }
    assert theirs
    for path in (ROOT / "communications").rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        strings = {
            node.value
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert not strings & theirs, f"{path.relative_to(ROOT)} names {strings & theirs}"

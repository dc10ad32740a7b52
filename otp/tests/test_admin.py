"""The one-time code admin: a read-only record, found by full address or id, that never
shows a code, its hash or the recipient's digest."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from communications.services import settings_update
from merchants.models import Merchant
from otp.models import OneTimeCode
from otp.services import otp_request
from otp.tests.helpers import EMAIL, PHONE, last_email_code, last_sms_code

pytestmark = pytest.mark.django_db

CODES = reverse("admin:otp_codes_onetimecode_changelist")
OTHER_PHONE = "+447700900999"


@pytest.fixture
def codes(merchant: Merchant) -> dict[str, tuple[OneTimeCode, str]]:
    """Three codes, each with the code its message carried."""
    settings_update(actor=None, otp_resend_cooldown_seconds=0)
    made = {}
    for name, recipient, channel in (
        ("phone", PHONE, "sms"),
        ("other", OTHER_PHONE, "sms"),
        ("email", EMAIL, "email"),
    ):
        issued = otp_request(
            purpose="login", channel=channel, recipient=recipient, merchant=merchant
        )
        made[name] = (issued.otp, last_sms_code() if channel == "sms" else last_email_code())
    return made


def assert_nothing_secret(html: str, *codes: tuple[OneTimeCode, str]) -> None:
    for otp, code in codes:
        assert otp.code_hash not in html
        assert otp.recipient_digest not in html
        assert f">{code}<" not in html
        assert f" {code} " not in html
    assert "code_hash" not in html
    assert "recipient_digest" not in html


def found(client: Client, term: str, codes: dict[str, tuple[OneTimeCode, str]]) -> set[str]:
    response = client.get(CODES, {"q": term})
    assert response.status_code == 200
    html = response.content.decode()
    return {name for name, (otp, _) in codes.items() if otp.public_id in html}


def test_the_list_shows_masked_recipients_and_nothing_secret(
    admin_client: Client, codes: dict[str, tuple[OneTimeCode, str]]
) -> None:
    response = admin_client.get(CODES)
    assert response.status_code == 200
    html = response.content.decode()
    assert "+44*****23" in html
    assert "a***@example.com" in html
    assert PHONE not in html
    assert EMAIL not in html
    assert_nothing_secret(html, *codes.values())


def test_search_by_full_address_or_id(
    admin_client: Client, codes: dict[str, tuple[OneTimeCode, str]]
) -> None:
    assert found(admin_client, PHONE, codes) == {"phone"}
    assert found(admin_client, "+44 7700 900-123", codes) == {"phone"}
    assert found(admin_client, "Ana@EXAMPLE.com", codes) == {"email"}
    assert found(admin_client, codes["other"][0].public_id, codes) == {"other"}
    # a partial address, a masked one or the code itself finds nothing
    assert found(admin_client, "900123", codes) == set()
    assert found(admin_client, "+44*****23", codes) == set()
    assert found(admin_client, codes["phone"][1], codes) == set()


def test_the_code_page_is_read_only_and_shows_no_hash(
    admin_client: Client, codes: dict[str, tuple[OneTimeCode, str]]
) -> None:
    otp, code = codes["phone"]
    response = admin_client.get(reverse("admin:otp_codes_onetimecode_change", args=[otp.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert otp.public_id in html
    assert 'name="status"' not in html
    assert 'name="_save"' not in html
    assert_nothing_secret(html, (otp, code))


def test_codes_cannot_be_added_changed_or_deleted(
    admin_client: Client, codes: dict[str, tuple[OneTimeCode, str]]
) -> None:
    otp, _ = codes["phone"]
    change = reverse("admin:otp_codes_onetimecode_change", args=[otp.pk])
    delete = reverse("admin:otp_codes_onetimecode_delete", args=[otp.pk])
    assert admin_client.get(reverse("admin:otp_codes_onetimecode_add")).status_code == 403
    assert admin_client.post(change, {"status": "verified"}).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    otp.refresh_from_db()
    assert otp.status == "pending"

"""The OpenAPI document is the contract, checked by schemathesis against the running app.

Schemathesis reads ``/api/v1/schema/`` and sends what it describes, and what it rules
out, to the app served by ``live_server`` (a thread of this process, on this test's
database): the documented examples, then boundary and invalid values for every field,
header and query parameter, then random requests and chains of calls that follow ids
from one response into the next. Any answer the document does not allow is a finding,
and one finding fails the test. The run is bounded in time and seeded, so it takes the
same path on every machine; a failure prints the requests that reproduce it.

The examples in the document name a card and its code; the test seeds exactly that card,
so the documented calls succeed rather than all answering 404.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
import schemathesis
from django.test.testcases import QuietWSGIRequestHandler
from schemathesis.engine import StopReason, events, from_schema

from giftcards import codes, services
from giftcards.api import examples
from giftcards.models import GiftCard
from giftcards.tests.helpers import issue
from merchants.models import Merchant
from tests.factories import ApiKeyFactory, MerchantFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.contract]

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "ignored_auth",
)
SEED = 20260701
# Seconds for the whole run; schemathesis shares them out over its phases.
TIME_BUDGET = 40


def _seed_the_documented_card(merchant: Merchant) -> None:
    """A card with the documented id and code, already spent from (so it can be refunded)."""
    issued = issue(merchant, 500_000)
    sealed = codes.seal(codes.normalise(examples.ISSUED_CARD["code"]))
    GiftCard.objects.filter(pk=issued.card.pk).update(
        public_id=examples.CARD["id"],
        code_digest=sealed.digest,
        code_encrypted=sealed.encrypted,
        last4=sealed.last4,
    )
    services.giftcard_redeem(merchant=merchant, card_id=issued.card.pk, amount=100_000)


@pytest.fixture
def contract_key() -> str:
    merchant = MerchantFactory(name="Contract Coffee", slug="contract", currency="EUR")
    _seed_the_documented_card(merchant)
    for amount in (2500, 5000):
        issue(merchant, amount)
    return ApiKeyFactory(merchant=merchant, name="contract").plaintext


def _config(key: str) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # No cache of earlier runs' observations: each run starts from the document.
            "cache": {"enabled": False},
            "max-time": TIME_BUDGET,
            "workers": 1,
            # One request per connection: the test server serves each connection in a
            # thread that holds a database connection until the client hangs up, and
            # schemathesis would keep them open past the end of the test.
            "headers": {"Authorization": f"Bearer {key}", "Connection": "close"},
            # Nor of earlier failures: a finding is reproduced by the printed requests.
            "generation": {"mode": "all", "max-examples": 20, "database": "none"},
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
            "phases": {"stateful": {"max-steps": 10}},
        }
    )


def _describe(label: str, check: str, info: Any) -> str:
    failure = info.failure
    # The reproduction has the API key and Idempotency-Key filtered out by schemathesis.
    return f"{label} [{check}] {failure.title}\n{failure.message}\n{info.code_sample}"


def test_the_api_answers_only_as_its_openapi_document_says(
    live_server: Any, contract_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test server writes headers and body in two sends; without TCP_NODELAY each
    # response waits for a delayed ACK (about 40 ms, ten times what the app takes).
    monkeypatch.setattr(QuietWSGIRequestHandler, "disable_nagle_algorithm", True)
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/v1/schema/", config=_config(contract_key)
    )
    findings: list[str] = []
    successes: dict[str, int] = defaultdict(int)
    stop_reason = None
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for checks in event.recorder.checks.values():
                findings += [
                    _describe(event.recorder.label, check.name, check.failure_info)
                    for check in checks
                    if check.failure_info is not None
                ]
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None and interaction.response.status_code < 300:
                    successes[f"{interaction.request.method} {interaction.request.uri}"] += 1
        elif isinstance(event, events.NonFatalError):
            findings.append(f"{event.label}: schemathesis could not test it\n{event.info.format()}")
        elif isinstance(event, events.FatalError):
            findings.append(f"schemathesis stopped: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            stop_reason = event.stop_reason

    assert not findings, "\n\n".join(sorted(set(findings)))
    assert stop_reason in (StopReason.COMPLETED, StopReason.MAX_TIME)
    # The key worked and the seeded card was found: the run tested the API, not a 401.
    done = " ".join(successes)
    for call in ("GET", "POST", examples.CARD["id"], "/merchant/", "/lookup/"):
        assert call in done, f"no successful call matching {call!r}: {sorted(successes)}"

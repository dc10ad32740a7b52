"""Bulk issuance (GC-9): count and amount, or a CSV upload; per-row errors reported; the
task never issues a row twice; the report carries the codes to managers only."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from giftcards import bulk, codes, services
from giftcards.exceptions import IdempotencyKeyReused, InvalidAmount
from giftcards.models import (
    BulkIssueJob,
    BulkIssueStatus,
    GiftCard,
    Product,
    Transaction,
    TransactionKind,
)
from giftcards.tasks import bulk_issue
from giftcards.tests.factories import ProductFactory
from giftcards.tests.helpers import ledger_sum
from merchants.models import Membership, Merchant, Role

pytestmark = pytest.mark.django_db


def url(merchant: Merchant, name: str, *args: str) -> str:
    return reverse(f"giftcards:{name}", args=[merchant.slug, *args])


@pytest.fixture
def manager(merchant: Merchant, member_factory: Callable[..., Membership]) -> User:
    return member_factory(merchant, Role.MANAGER).user


@pytest.fixture
def manager_client(manager: User) -> Client:
    client = Client()
    client.force_login(manager)
    return client


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks: Any) -> Any:
    """Run what the view queues on commit (the eager Celery task) as a real commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def upload(text: str, name: str = "cards.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def post_count(client: Client, merchant: Merchant, **fields: str) -> Any:
    data = {"mode": "count", **{f"count-{k}": v for k, v in fields.items()}}
    return client.post(url(merchant, "bulk-issue"), data)


def post_csv(client: Client, merchant: Merchant, file: SimpleUploadedFile, **fields: str) -> Any:
    data: dict[str, Any] = {"mode": "csv", "csv-file": file}
    data.update({f"csv-{k}": v for k, v in fields.items()})
    return client.post(url(merchant, "bulk-issue"), data)


def job_cards(job: BulkIssueJob) -> list[GiftCard]:
    return sorted(
        GiftCard.objects.filter(merchant=job.merchant, metadata__bulk_job=job.public_id),
        key=lambda card: card.metadata["row"],
    )


def report_rows(response: Any) -> list[dict[str, str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


# --- Count and amount ------------------------------------------------------------------


def test_count_and_amount_issues_that_many_cards_in_the_background(
    manager_client: Client,
    manager: User,
    merchant: Merchant,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_count(manager_client, merchant, count="5", amount="10.00")
    job = BulkIssueJob.objects.get()
    assert response.status_code == 303
    assert response["Location"] == url(merchant, "bulk-job", job.public_id)
    # The task is queued only once the job is committed, so a worker always finds it.
    assert (job.status, GiftCard.objects.count(), len(callbacks)) == ("queued", 0, 1)
    callbacks[0]()

    job.refresh_from_db()
    assert (job.status, job.total, job.processed, job.succeeded, job.failed) == (
        "done",
        5,
        5,
        5,
        0,
    )
    assert (job.created_by, job.kind, job.amount, job.currency) == (manager, "count", 1000, "EUR")
    assert job.finished_at is not None
    cards = job_cards(job)
    assert [card.metadata["row"] for card in cards] == [1, 2, 3, 4, 5]
    assert {(card.balance, card.initial_amount, card.status) for card in cards} == {
        (1000, 1000, "active")
    }
    assert all(ledger_sum(card) == 1000 for card in cards)
    issues = Transaction.objects.filter(kind=TransactionKind.ISSUE, merchant=merchant)
    assert {txn.actor_user for txn in issues} == {manager}
    assert len({card.last4 + card.code_digest for card in cards}) == 5

    page = manager_client.get(response["Location"])
    assert page.status_code == 200
    body = page.content.decode()
    assert '<progress id="bulk-progress-bar" max="5" value="5">' in body
    assert "5 of 5 rows processed" in body
    assert "hx-trigger" not in body  # finished: no more polling
    assert "Download the report" in body
    assert "keep it in a safe, encrypted place" in body


def test_a_queued_job_page_polls_and_offers_a_refresh_link(
    manager_client: Client, manager: User, merchant: Merchant
) -> None:
    job = bulk.bulk_job_create_count(merchant=merchant, actor=manager, count=3, amount=500)
    page = manager_client.get(url(merchant, "bulk-job", job.public_id))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'hx-trigger="every 1s"' in body
    assert 'hx-select="#bulk-progress"' in body
    assert '<progress id="bulk-progress-bar" max="3" value="0">' in body
    assert ">Refresh</a>" in body
    assert "Download the report" not in body
    assert "no-store" in page["Cache-Control"]


def test_count_with_product_and_expiry(
    manager_client: Client, merchant: Merchant, run_on_commit: Any
) -> None:
    product = ProductFactory(merchant=merchant, name="Summer", denominations=[2500, 5000])
    day = timezone.localdate() + timedelta(days=400)
    with run_on_commit():
        response = post_count(
            manager_client,
            merchant,
            count="2",
            amount="25",
            product=product.public_id,
            expires_on=day.isoformat(),
        )
    assert response.status_code == 303
    cards = job_cards(BulkIssueJob.objects.get())
    assert len(cards) == 2
    assert {card.product for card in cards} == {product}
    assert {timezone.localdate(card.expires_at) for card in cards if card.expires_at} == {day}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"count": "0", "amount": "10"}, "greater than or equal to 1"),
        ({"count": "10001", "amount": "10"}, "less than or equal to 10000"),
        ({"count": "5", "amount": "0"}, "The amount must be more than 0."),
        ({"count": "5", "amount": "1.234"}, "at most 2 decimal places"),
        ({"count": "5", "amount": "10", "expires_on": "2000-01-01"}, "stay valid for at least"),
    ],
)
def test_count_form_refusals_create_nothing(
    manager_client: Client, merchant: Merchant, fields: dict[str, str], message: str
) -> None:
    response = post_count(manager_client, merchant, **fields)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not BulkIssueJob.objects.exists()
    assert not GiftCard.objects.exists()


def test_a_product_amount_it_does_not_come_in_is_refused(
    manager_client: Client, merchant: Merchant
) -> None:
    product = ProductFactory(merchant=merchant, name="Classic", denominations=[2500, 5000])
    response = post_count(
        manager_client, merchant, count="2", amount="30", product=product.public_id
    )
    assert response.status_code == 422
    assert "Classic comes in these amounts only: €25.00, €50.00." in response.content.decode()
    assert not BulkIssueJob.objects.exists()


def test_another_merchants_product_cannot_be_chosen(
    manager_client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    theirs = ProductFactory(merchant=other_merchant, name="Theirs", denominations=[])
    response = post_count(manager_client, merchant, count="1", amount="5", product=theirs.public_id)
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not BulkIssueJob.objects.exists()


def test_a_count_job_stops_at_the_first_refusal(merchant: Merchant, manager: User) -> None:
    product = ProductFactory(merchant=merchant, name="Gone", denominations=[])
    job = bulk.bulk_job_create_count(
        merchant=merchant, actor=manager, count=50, amount=500, product=product
    )
    Product.objects.filter(pk=product.pk).update(is_active=False)
    bulk_issue(job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.failure_reason == "This product is not available."
    assert (job.processed, job.succeeded, job.failed) == (1, 0, 1)
    assert not GiftCard.objects.exists()


# --- CSV -------------------------------------------------------------------------------

GOOD_AND_BAD = (
    "amount,recipient_email,recipient_phone,reference\n"
    "25.00,ana@example.com,,Welcome\n"  # row 2
    "abc,,,\n"  # row 3: bad amount
    "10,not-an-email,,\n"  # row 4: bad email
    "15.5,,+353 86 123 4567,Staff\n"  # row 5
    "\n"  # blank lines are skipped, but still counted as lines
    "-3,,,\n"  # row 7: negative
    "1.005,,12,\n"  # row 8: too many decimals and a bad phone
    "7,,,=HYPERLINK(1)\n"  # row 9: a formula-looking reference
)


def test_csv_issues_good_rows_and_reports_bad_ones_with_row_numbers(
    manager_client: Client, manager: User, merchant: Merchant, run_on_commit: Any
) -> None:
    with run_on_commit():
        response = post_csv(manager_client, merchant, upload(GOOD_AND_BAD))
    assert response.status_code == 303
    job = BulkIssueJob.objects.get()
    assert (job.kind, job.status, job.total, job.processed) == ("csv", "done", 7, 7)
    assert (job.succeeded, job.failed) == (3, 4)
    assert job.filename == "cards.csv"
    assert [error["row"] for error in job.errors] == [3, 4, 7, 8]
    messages = {error["row"]: error["message"] for error in job.errors}
    assert "amount: Type the amount as a number" in messages[3]
    assert "recipient_email: not a valid email address" in messages[4]
    assert "amount: The amount must be more than 0." in messages[7]
    assert "at most 2 decimal places" in messages[8]
    assert "recipient_phone" in messages[8]

    cards = job_cards(job)
    assert [(c.metadata["row"], c.balance) for c in cards] == [(2, 2500), (5, 1550), (9, 700)]
    assert cards[0].recipient_email == "ana@example.com"
    assert cards[1].recipient_phone == "+353861234567"
    references = Transaction.objects.filter(gift_card__in=cards).values_list("reference", flat=True)
    assert set(references) == {"Welcome", "Staff", "=HYPERLINK(1)"}

    page = manager_client.get(url(merchant, "bulk-job", job.public_id)).content.decode()
    assert "Rows not issued" in page
    assert "<td>3</td>" in page
    assert "not a valid email address" in page


def test_csv_with_bom_semicolons_and_decimal_commas(
    manager_client: Client, merchant: Merchant, run_on_commit: Any
) -> None:
    text = "\ufeffAmount;Reference\r\n12,50;A\r\n3;B\r\n"
    with run_on_commit():
        response = post_csv(manager_client, merchant, upload(text))
    assert response.status_code == 303
    job = BulkIssueJob.objects.get()
    assert job.errors == []
    assert [card.balance for card in job_cards(job)] == [1250, 300]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "The submitted file is empty."),
        ("\n\n", "The first line must be a header row"),
        ("amount\n", "has a header row but no cards"),
        ("25.00,ana@example.com\n", "Unknown column(s): 25.00"),
        ("email,reference\nx,y\n", "Unknown column(s): email"),
        ("reference\nx\n", "no amount column"),
        ("amount,amount\n1,2\n", "appear twice: amount"),
    ],
)
def test_csv_file_level_problems_are_refused_whole(
    manager_client: Client, merchant: Merchant, content: str, message: str
) -> None:
    response = post_csv(manager_client, merchant, upload(content))
    assert response.status_code == 422
    assert message in response.content.decode().replace("&#x27;", "'")
    assert not BulkIssueJob.objects.exists()


def test_csv_that_is_not_utf8_is_refused(manager_client: Client, merchant: Merchant) -> None:
    response = post_csv(manager_client, merchant, upload("amount\n10\nCafé\n", encoding="latin-1"))
    assert response.status_code == 422
    assert "not UTF-8" in response.content.decode()
    assert not BulkIssueJob.objects.exists()


def test_csv_of_10001_rows_is_refused(manager_client: Client, merchant: Merchant) -> None:
    text = "amount\n" + "1\n" * 10_001
    response = post_csv(manager_client, merchant, upload(text))
    assert response.status_code == 422
    assert "more than 10,000 rows" in response.content.decode()
    assert not BulkIssueJob.objects.exists()
    assert not GiftCard.objects.exists()


def test_csv_of_10000_rows_is_accepted() -> None:
    parsed = bulk.parse_csv(("amount\n" + "1\n" * 10_000).encode(), currency="EUR")
    assert len(parsed.rows) == 10_000
    assert parsed.rows[-1]["row"] == 10_001
    assert parsed.invalid == 0


def test_csv_over_2mb_is_refused(manager_client: Client, merchant: Merchant) -> None:
    text = "amount,reference\n" + ("1," + "x" * 198 + "\n") * 10_500
    assert len(text) > 2 * 1024 * 1024
    response = post_csv(manager_client, merchant, upload(text))
    assert response.status_code == 422
    assert "larger than 2 MB" in response.content.decode()
    assert not BulkIssueJob.objects.exists()


def test_a_row_with_more_values_than_columns_is_a_row_error() -> None:
    parsed = bulk.parse_csv(b"amount\n1\n2,3\n", currency="EUR")
    assert [row["error"] for row in parsed.rows] == [
        "",
        "This row has more values than the header has columns.",
    ]


# --- Idempotent runs -------------------------------------------------------------------


def test_running_the_task_again_issues_nothing_twice(
    manager_client: Client, merchant: Merchant, run_on_commit: Any
) -> None:
    with run_on_commit():
        post_csv(manager_client, merchant, upload(GOOD_AND_BAD))
    job = BulkIssueJob.objects.get()
    first = [(card.pk, card.metadata["row"]) for card in job_cards(job)]
    ledger = Transaction.objects.count()

    bulk_issue(job.pk)  # a finished job: nothing to do
    # A redelivered task finds the job still marked running: it runs again, and skips.
    BulkIssueJob.objects.filter(pk=job.pk).update(status=BulkIssueStatus.RUNNING)
    bulk_issue(job.pk)

    job.refresh_from_db()
    assert [(card.pk, card.metadata["row"]) for card in job_cards(job)] == first
    assert Transaction.objects.count() == ledger
    assert (job.status, job.processed, job.succeeded, job.failed) == ("done", 7, 3, 4)
    assert [error["row"] for error in job.errors] == [3, 4, 7, 8]


def test_a_job_that_crashed_half_way_resumes_where_it_stopped(
    manager_client: Client, manager: User, merchant: Merchant, run_on_commit: Any
) -> None:
    job = bulk.bulk_job_create_count(merchant=merchant, actor=manager, count=250, amount=100)
    real_seal = codes.seal
    calls = {"n": 0}

    def flaky(code: str) -> codes.SealedCode:
        calls["n"] += 1
        if calls["n"] == 130:
            raise RuntimeError("database went away")
        return real_seal(code)

    with mock.patch.object(codes, "seal", side_effect=flaky), pytest.raises(RuntimeError):
        bulk_issue(job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert "Run it again" in job.failure_reason
    assert job.processed == 100  # the last chunk that completed
    # A chunk is issued whole or not at all: the 29 cards of the second chunk that were
    # made before the crash went with it.
    assert len(job_cards(job)) == 100

    page = manager_client.get(url(merchant, "bulk-job", job.public_id)).content.decode()
    assert "The job stopped." in page
    with run_on_commit():
        retry = manager_client.post(url(merchant, "bulk-job-retry", job.public_id))
    assert retry.status_code == 303
    job.refresh_from_db()
    assert (job.status, job.processed, job.succeeded, job.failed) == ("done", 250, 250, 0)
    rows = [card.metadata["row"] for card in job_cards(job)]
    assert rows == list(range(1, 251))
    assert Transaction.objects.filter(kind=TransactionKind.ISSUE).count() == 250


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_two_workers_running_one_job_at_once_issue_each_row_once(
    merchant: Merchant, owner: User
) -> None:
    job = bulk.bulk_job_create_count(merchant=merchant, actor=owner, count=120, amount=100)
    barrier = threading.Barrier(3)

    def work(_: int) -> None:
        try:
            barrier.wait(timeout=30)
            bulk.bulk_job_run(job_id=job.pk)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(work, range(3)))
    rows = [card.metadata["row"] for card in job_cards(job)]
    assert sorted(rows) == list(range(1, 121))
    assert Transaction.objects.filter(kind=TransactionKind.ISSUE).count() == 120
    job.refresh_from_db()
    assert (job.status, job.succeeded) == ("done", 120)


def test_only_a_failed_job_can_be_run_again(
    manager_client: Client, manager: User, merchant: Merchant
) -> None:
    job = bulk.bulk_job_create_count(merchant=merchant, actor=manager, count=1, amount=100)
    response = manager_client.post(url(merchant, "bulk-job-retry", job.public_id), follow=True)
    assert "Only a job that stopped with an error can be run again." in response.content.decode()
    job.refresh_from_db()
    assert job.status == "queued"


# --- A chunk of cards in one transaction (giftcards_issue_many) -----------------------


def batch(*keys: str, amount: int = 1000) -> list[services.CardToIssue]:
    return [services.CardToIssue(amount=amount, idempotency_key=key) for key in keys]


def issued_fields(issued: services.IssuedCard) -> tuple[Any, ...]:
    card, txn = issued.card, issued.transaction
    card.refresh_from_db()
    txn = Transaction.objects.get(pk=txn.pk)
    return (
        card.currency,
        card.initial_amount,
        card.balance,
        card.status,
        card.reloadable,
        card.product_id,
        card.expires_at - card.created_at if card.expires_at else None,
        card.recipient_email,
        card.issued_by_id,
        card.metadata,
        codes.digest(issued.code) == card.code_digest,
        codes.decrypt(card.code_encrypted) == issued.code,
        card.last4 == issued.code[-4:],
        card.created_at == card.updated_at == txn.created_at,
        (txn.merchant_id, txn.kind, txn.amount, txn.balance_after, txn.currency),
        (txn.reference, txn.reason, txn.actor_user_id, txn.related_id),
    )


def test_a_card_issued_in_a_batch_is_the_card_giftcard_issue_makes(
    merchant: Merchant, manager: User
) -> None:
    product = ProductFactory(merchant=merchant, denominations=[1000], reloadable=False)
    product.validity_days = 400
    product.save()
    common: dict[str, Any] = {"merchant": merchant, "product": product, "actor": manager}
    alone = services.giftcard_issue(
        amount=1000,
        recipient_email="ana@example.com",
        metadata={"row": 1},
        reference="promo",
        idempotency_key="one",
        **common,
    )
    (together,) = services.giftcards_issue_many(
        cards=[
            services.CardToIssue(
                amount=1000,
                idempotency_key="two",
                recipient_email="ana@example.com",
                metadata={"row": 1},
                reference="promo",
            )
        ],
        **common,
    )

    assert isinstance(together, services.IssuedCard)
    assert not together.replayed
    assert together.transaction.idempotency_key == "two"
    assert issued_fields(together) == issued_fields(alone)
    assert issued_fields(together)[:7] == (
        "EUR",
        1000,
        1000,
        "active",
        False,
        product.pk,
        timedelta(days=400),
    )
    assert together.code != alone.code


def test_a_batch_answers_each_card_in_order_replays_and_refusals_included(
    merchant: Merchant,
) -> None:
    first = services.giftcard_issue(merchant=merchant, amount=1000, idempotency_key="k2")
    services.giftcard_issue(merchant=merchant, amount=500, idempotency_key="k4")
    cards = [
        *batch("k1", "k2"),
        services.CardToIssue(amount=0, idempotency_key="k3"),
        *batch("k4", "k5"),
    ]

    answers = services.giftcards_issue_many(merchant=merchant, cards=cards)

    new1, again, refused, reused, new5 = answers
    assert isinstance(new1, services.IssuedCard)
    assert not new1.replayed
    assert isinstance(again, services.IssuedCard)
    assert again.replayed
    assert (again.card.pk, again.code) == (first.card.pk, first.code)
    assert isinstance(refused, InvalidAmount)
    assert isinstance(reused, IdempotencyKeyReused)  # k4 issued 500, not 1000
    assert isinstance(new5, services.IssuedCard)
    assert not new5.replayed
    keys = Transaction.objects.values_list("idempotency_key", flat=True)
    assert sorted(keys) == ["k1", "k2", "k4", "k5"]
    assert GiftCard.objects.count() == 4

    # Asked again, every issued card comes back and nothing is written.
    again_answers = services.giftcards_issue_many(merchant=merchant, cards=batch("k1", "k5"))
    assert [a.card.pk for a in again_answers if isinstance(a, services.IssuedCard)] == [
        new1.card.pk,
        new5.card.pk,
    ]
    assert GiftCard.objects.count() == 4


def test_a_clash_in_the_batch_issues_the_cards_one_by_one_instead(merchant: Merchant) -> None:
    # The first two codes are the same: the batch's insert is refused as a whole, and
    # each card is then issued on its own (with the next codes).
    made = iter(["0" * 15, "0" * 15, "1" * 15, "2" * 15])
    with mock.patch.object(
        codes, "generate", side_effect=lambda: (body := next(made)) + codes.check_symbol(body)
    ):
        answers = services.giftcards_issue_many(merchant=merchant, cards=batch("a", "b"))

    assert [a.code[:15] for a in answers if isinstance(a, services.IssuedCard)] == [
        "1" * 15,
        "2" * 15,
    ]
    assert GiftCard.objects.count() == 2
    assert sorted(Transaction.objects.values_list("idempotency_key", flat=True)) == ["a", "b"]
    assert all(ledger_sum(card) == 1000 for card in GiftCard.objects.all())


def test_each_card_of_a_batch_needs_its_own_key(merchant: Merchant) -> None:
    for keys in (("a", "a"), ("a", "")):
        with pytest.raises(ValueError, match="its own idempotency key"):
            services.giftcards_issue_many(merchant=merchant, cards=batch(*keys))
    assert not GiftCard.objects.exists()


def test_a_batch_costs_the_same_statements_for_10_cards_as_for_50(merchant: Merchant) -> None:
    def statements(count: int, prefix: str) -> int:
        keys = [f"{prefix}:{n}" for n in range(count)]
        with CaptureQueriesContext(connection) as queries:
            answers = services.giftcards_issue_many(merchant=merchant, cards=batch(*keys))
        assert len(answers) == count
        return len(queries)

    ten = statements(10, "ten")
    assert ten == statements(50, "fifty")
    assert ten <= 5  # savepoint, the keys used before, the cards, their ledger rows, release


# --- The report ------------------------------------------------------------------------


def test_report_lists_every_row_with_full_codes_and_is_never_stored(
    manager_client: Client, merchant: Merchant, run_on_commit: Any
) -> None:
    with run_on_commit():
        post_csv(manager_client, merchant, upload(GOOD_AND_BAD))
    job = BulkIssueJob.objects.get()
    response = manager_client.get(url(merchant, "bulk-job-report", job.public_id))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Disposition"] == f'attachment; filename="{job.public_id}-cards.csv"'

    rows = report_rows(response)
    assert [(r["row"], r["status"]) for r in rows] == [
        ("2", "issued"),
        ("3", "failed"),
        ("4", "failed"),
        ("5", "issued"),
        ("7", "failed"),
        ("8", "failed"),
        ("9", "issued"),
    ]
    cards = {card.public_id: card for card in job_cards(job)}
    for row in (r for r in rows if r["status"] == "issued"):
        card = cards[row["card_id"]]
        assert row["code"] == codes.format_code(codes.decrypt(card.code_encrypted))
        assert codes.digest(codes.normalise(row["code"])) == card.code_digest
        assert row["last4"] == card.last4 == row["code"][-4:]
        assert row["currency"] == "EUR"
    assert rows[0]["amount"] == "25.00"
    assert rows[0]["recipient_email"] == "ana@example.com"
    assert rows[-1]["reference"] == "'=HYPERLINK(1)"  # never a live formula in a spreadsheet
    assert "Type the amount as a number" in rows[1]["message"]
    assert rows[1]["code"] == rows[1]["card_id"] == ""


def test_report_waits_for_the_job_to_finish(
    manager_client: Client, manager: User, merchant: Merchant
) -> None:
    job = bulk.bulk_job_create_count(merchant=merchant, actor=manager, count=1, amount=100)
    response = manager_client.get(url(merchant, "bulk-job-report", job.public_id))
    assert response.status_code == 303
    assert response["Location"] == url(merchant, "bulk-job", job.public_id)


# --- Roles and tenancy -----------------------------------------------------------------


def test_clerks_cannot_bulk_issue_or_read_reports(
    merchant: Merchant, manager: User, clerk: User, run_on_commit: Any
) -> None:
    job = bulk.bulk_job_create_count(merchant=merchant, actor=manager, count=1, amount=100)
    bulk_issue(job.pk)
    client = Client()
    client.force_login(clerk)
    assert client.get(url(merchant, "bulk-issue")).status_code == 403
    refused = post_count(client, merchant, count="1", amount="5")
    assert refused.status_code == 403
    assert client.get(url(merchant, "bulk-job", job.public_id)).status_code == 403
    report = client.get(url(merchant, "bulk-job-report", job.public_id))
    assert report.status_code == 403
    assert codes.decrypt(job_cards(job)[0].code_encrypted) not in report.content.decode()
    assert client.post(url(merchant, "bulk-job-retry", job.public_id)).status_code == 403
    assert BulkIssueJob.objects.count() == 1


def test_owners_can_bulk_issue(owner_client: Client, merchant: Merchant) -> None:
    assert owner_client.get(url(merchant, "bulk-issue")).status_code == 200


def test_another_merchants_jobs_do_not_exist(
    manager_client: Client, merchant: Merchant, other_merchant: Merchant, owner: User
) -> None:
    theirs = bulk.bulk_job_create_count(merchant=other_merchant, actor=owner, count=1, amount=100)
    bulk_issue(theirs.pk)
    for name in ("bulk-job", "bulk-job-report"):
        assert manager_client.get(url(merchant, name, theirs.public_id)).status_code == 404
    assert manager_client.post(url(merchant, "bulk-job-retry", theirs.public_id)).status_code == 404
    listing = manager_client.get(url(merchant, "bulk-issue")).content.decode()
    assert theirs.public_id not in listing


# --- Amounts, phones and emails in a file: the platform's one reading of each ----------


def csv_row(currency: str = "EUR", **cells: str) -> dict[str, Any]:
    """The parsed first row of a semicolon file holding ``cells`` (and a reference, so
    the header line shows the semicolon)."""
    cells.setdefault("reference", "x")
    header = ";".join(cells)
    values = ";".join(cells.values())
    parsed = bulk.parse_csv(f"{header}\n{values}\n".encode(), currency=currency)
    return parsed.rows[0]


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.50", "EUR", 1250),
        ("12", "EUR", 1200),
        (" 12,5 ", "EUR", 1250),
        ("1,250.00", "EUR", 125000),
        ("1.250,00", "EUR", 125000),
        ("1 250.00", "EUR", 125000),
        ("+3", "EUR", 300),
        ("500", "JPY", 500),
        ("1,500", "JPY", 1500),
        ("1.250", "BHD", 1250),
    ],
)
def test_csv_amounts_are_read_as_everywhere_else(text: str, currency: str, minor: int) -> None:
    row = csv_row(currency, amount=text)
    assert (row["amount"], row["error"]) == (minor, "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter an amount."),
        ("0", "more than 0"),
        ("-1", "more than 0"),
        ("1,250", "could be read two ways"),
        ("1e3", "Type the amount as a number"),
        ("NaN", "Type the amount as a number"),
        ("Infinity", "Type the amount as a number"),
        ("12.5.0", "without thousands separators"),
        ("5.5 JPY", "names JPY"),
    ],
)
def test_csv_amounts_that_cannot_be_read_safely_are_reported(text: str, message: str) -> None:
    row = csv_row(amount=text)
    assert row["amount"] is None
    assert row["error"].startswith("amount: ")
    assert message in row["error"]


def test_csv_amounts_refuse_decimals_a_currency_does_not_have() -> None:
    assert "JPY amounts have no decimal places" in csv_row("JPY", amount="10.5")["error"]


def test_csv_phones_and_emails_are_stored_normalised() -> None:
    row = csv_row(
        amount="10", recipient_email=" Ana@Example.COM ", recipient_phone="0044 (7700) 900-123"
    )
    assert (row["recipient_email"], row["recipient_phone"], row["error"]) == (
        "ana@example.com",
        "+447700900123",
        "",
    )
    local = csv_row(amount="10", recipient_phone="07700 900123")
    assert "recipient_phone: Enter the phone number in international format" in local["error"]

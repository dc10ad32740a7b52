"""The benchmark's steps that run inside Django: prepare data, check the ledger, profile.

``tools/bench/run.py`` calls this module with the benchmark's environment (production
settings, the dedicated database); it is not meant to be run against a real database.

    python -m tools.bench.django_tasks prepare --out DIR --cards 20000
    python -m tools.bench.django_tasks check --out DIR [--min-redeems N --max-redeems M]
    python -m tools.bench.django_tasks profile --out DIR --requests 2000

Each step writes ``DIR/<step>.json`` for run.py to read.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import django

MERCHANT_SLUG = "bench"
CARD_AMOUNT = 1_000_000  # 10,000.00 EUR: a card survives a million 0.01 redemptions
HOT_CARD_AMOUNT = 100_000_000_00  # the platform's maximum, for the one hot card
HOST = "127.0.0.1"


def _setup() -> None:
    if not os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith("production"):
        raise SystemExit(
            "tools.bench.django_tasks runs under config.settings.production (tools/bench/run.py)."
        )
    if "bench" not in os.environ.get("DATABASE_URL", ""):
        raise SystemExit("tools.bench.django_tasks refuses a DATABASE_URL without 'bench' in it.")
    django.setup()


def _write_json(out: Path, name: str, data: dict[str, Any]) -> None:
    (out / f"{name}.json").write_text(json.dumps(data, indent=2, default=str))


# --- prepare ------------------------------------------------------------------------------


def prepare(out: Path, cards: int) -> None:
    """A merchant, an API key with every scope, one hot card and ``cards`` cards, all
    issued through ``giftcard_issue`` so each has its ``issue`` ledger row."""
    from django.db import transaction

    from giftcards.services import giftcard_issue
    from merchants.services import api_key_create, merchant_create

    started = time.perf_counter()
    merchant = merchant_create(
        name="Bench Coffee", slug=MERCHANT_SLUG, currency="EUR", owner_email="bench@example.com"
    ).merchant
    key = api_key_create(merchant=merchant, name="bench").plaintext
    lines: list[str] = []
    hot = giftcard_issue(merchant=merchant, amount=HOT_CARD_AMOUNT, reference="bench hot card")
    lines.append(f"{hot.card.public_id}\t{hot.formatted_code}")
    batch = 500
    for start in range(0, cards, batch):
        # One commit per batch (each card still gets its own savepoint and ledger row).
        with transaction.atomic():
            for _ in range(min(batch, cards - start)):
                issued = giftcard_issue(merchant=merchant, amount=CARD_AMOUNT, reference="bench")
                lines.append(f"{issued.card.public_id}\t{issued.formatted_code}")
    cards_file = out / "cards.tsv"
    cards_file.write_text("\n".join(lines) + "\n")
    key_file = out / "api_key.txt"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    _write_json(
        out,
        "prepare",
        {
            "merchant": MERCHANT_SLUG,
            "cards": cards,
            "hot_card": hot.card.public_id,
            "card_amount": CARD_AMOUNT,
            "hot_card_amount": HOT_CARD_AMOUNT,
            "seconds": round(time.perf_counter() - started, 1),
        },
    )


# --- check --------------------------------------------------------------------------------

_RUNNING_BALANCE_SQL = """
SELECT count(*) FROM (
    SELECT balance_after,
           sum(amount) OVER (PARTITION BY gift_card_id ORDER BY id) AS running
    FROM giftcards_transaction WHERE merchant_id = %s
) AS ledger WHERE balance_after <> running
"""

_BALANCE_SQL = """
SELECT count(*) FROM giftcards_giftcard AS card
LEFT JOIN (
    SELECT gift_card_id, sum(amount) AS total FROM giftcards_transaction
    WHERE merchant_id = %s GROUP BY gift_card_id
) AS ledger ON ledger.gift_card_id = card.id
WHERE card.merchant_id = %s AND card.balance <> coalesce(ledger.total, 0)
"""


def check(out: Path, min_redeems: int | None, max_redeems: int | None) -> None:
    """The money adds up: each balance equals its ledger sum, every ledger row's
    ``balance_after`` equals the running sum (so concurrent redemptions serialised),
    and the number of redemptions matches what the load generator saw succeed."""
    from django.db import connection
    from django.db.models import Sum

    from giftcards.models import GiftCard, Transaction, TransactionKind
    from merchants.models import IdempotencyRecord, Merchant

    merchant = Merchant.objects.get(slug=MERCHANT_SLUG)
    with connection.cursor() as cursor:
        cursor.execute(_BALANCE_SQL, [merchant.pk, merchant.pk])
        balance_mismatches = int(cursor.fetchone()[0])
        cursor.execute(_RUNNING_BALANCE_SQL, [merchant.pk])
        running_mismatches = int(cursor.fetchone()[0])
    redeems = Transaction.objects.filter(merchant=merchant, kind=TransactionKind.REDEEM)
    redeem_count = redeems.count()
    redeemed_total = -(redeems.aggregate(total=Sum("amount"))["total"] or 0)
    cards = GiftCard.objects.filter(merchant=merchant)
    issued = cards.aggregate(total=Sum("initial_amount"))["total"] or 0
    balances = cards.aggregate(total=Sum("balance"))["total"] or 0
    records = IdempotencyRecord.objects.filter(merchant=merchant)
    problems: list[str] = []
    if balance_mismatches:
        problems.append(f"{balance_mismatches} card balance(s) differ from their ledger sum")
    if running_mismatches:
        problems.append(f"{running_mismatches} ledger row(s) with a wrong balance_after")
    if issued - redeemed_total != balances:
        problems.append(
            f"issued {issued} - redeemed {redeemed_total} != sum of balances {balances}"
        )
    if min_redeems is not None and redeem_count < min_redeems:
        problems.append(f"{redeem_count} redemptions in the ledger, wrk saw {min_redeems} succeed")
    if max_redeems is not None and redeem_count > max_redeems:
        problems.append(f"{redeem_count} redemptions in the ledger, more than {max_redeems} sent")
    stored_ok = records.filter(response_status__lt=300).count()
    if stored_ok != redeem_count:
        problems.append(
            f"{stored_ok} stored 2xx idempotent responses for {redeem_count} redemptions"
        )
    _write_json(
        out,
        "check",
        {
            "cards": cards.count(),
            "redemptions": redeem_count,
            "redeemed_total": redeemed_total,
            "issued_total": issued,
            "balances_total": balances,
            "idempotency_records": records.count(),
            "idempotency_refusals": records.filter(response_status__gte=400).count(),
            "balance_mismatches": balance_mismatches,
            "running_balance_mismatches": running_mismatches,
            "min_redeems": min_redeems,
            "max_redeems": max_redeems,
            "problems": problems,
        },
    )


# --- profile ------------------------------------------------------------------------------


class _SqlTimer:
    """A database execute wrapper: counts statements and their wall time."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


class _Api:
    """The API through django.test.Client, as the load generator calls it."""

    def __init__(self, key: str, cards: list[tuple[str, str]], hot: str) -> None:
        from django.test import Client

        self.client = Client(
            HTTP_HOST=HOST, HTTP_X_FORWARDED_PROTO="https", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
        self.cards = cards
        self.hot = hot
        self.run = uuid.uuid4().hex[:8]
        self.counter = 0
        self.position = len(cards) // 2  # away from the cards wrk used first

    def _next(self) -> tuple[str, str]:
        self.position = (self.position + 1) % len(self.cards)
        return self.cards[self.position]

    def _key(self) -> str:
        self.counter += 1
        return f"profile-{self.run}-{self.counter}"

    def _expect(self, response: Any, status: int) -> None:
        if response.status_code != status:
            raise RuntimeError(f"{response.status_code}: {response.content[:300]!r}")

    def healthz(self) -> None:
        self._expect(self.client.get("/healthz"), 200)

    def read_cold(self) -> None:
        from django.core.cache import cache

        from giftcards import cache as card_cache

        public_id, _ = self._next()
        merchant_id = self._merchant_id()
        cache.delete(card_cache.card_key(merchant_id, public_id))
        self._expect(self.client.get(f"/api/v1/gift-cards/{public_id}/"), 200)

    def read_hot(self) -> None:
        self._expect(self.client.get(f"/api/v1/gift-cards/{self.hot}/"), 200)

    def redeem(self) -> None:
        public_id, _ = self._next()
        self._post(f"/api/v1/gift-cards/{public_id}/redeem/", {"amount": 1, "currency": "EUR"})

    def redeem_code(self) -> None:
        _, code = self._next()
        self._post("/api/v1/gift-cards/redeem/", {"code": code, "amount": 1, "currency": "EUR"})

    def redeem_replay(self) -> None:
        public_id, _ = self._next()
        body = {"amount": 1, "currency": "EUR"}
        key = self._key()
        self._post(f"/api/v1/gift-cards/{public_id}/redeem/", body, key=key)
        self._post(f"/api/v1/gift-cards/{public_id}/redeem/", body, key=key)

    def _post(self, path: str, body: dict[str, Any], key: str | None = None) -> None:
        response = self.client.post(
            path,
            data=json.dumps(body),
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=key or self._key(),
        )
        self._expect(response, 201)

    _merchant_pk: int | None = None

    def _merchant_id(self) -> int:
        if self._merchant_pk is None:
            from merchants.models import Merchant

            self._merchant_pk = Merchant.objects.get(slug=MERCHANT_SLUG).pk
        return self._merchant_pk


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _time_operation(operation: Callable[[], None], requests: int) -> dict[str, float]:
    from django.db import connection

    for _ in range(50):
        operation()
    timer = _SqlTimer()
    durations: list[float] = []
    with connection.execute_wrapper(timer):
        for _ in range(requests):
            started = time.perf_counter()
            operation()
            durations.append(time.perf_counter() - started)
    return {
        "mean_ms": statistics.fmean(durations) * 1000,
        "p50_ms": _percentile(durations, 0.5) * 1000,
        "p99_ms": _percentile(durations, 0.99) * 1000,
        "sql_per_request": timer.count / requests,
        "sql_ms_per_request": timer.seconds / requests * 1000,
        "requests": requests,
    }


def _capture(operation: Callable[[], None]) -> list[str]:
    """Every statement of one request, BEGIN and COMMIT included. Django's query log
    cannot render a statement prepared on the server (it shows ``None``), so those are
    taken, in order, from what the cursor was given."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    given: list[str] = []

    def remember(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        given.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(remember):
        operation()
    statements = []
    sent = iter(given)
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql in ("BEGIN", "COMMIT", "ROLLBACK") or str(sql).startswith(("SAVEPOINT", "RELEASE")):
            statements.append(str(sql))
        else:
            statements.append(next(sent, None) or str(sql))
    return statements


# Functions whose inclusive time the report lists: (where, function, label). ``where`` is
# a path suffix, or, starting with "/", a part of the path (a whole package); function
# "*" matches any function there. Targets that the measured code does not have (an older
# or newer revision) are left out of the report.
_TARGETS: tuple[tuple[str, str, str], ...] = (
    ("django/core/handlers/base.py", "get_response", "Django handler (middleware + view)"),
    ("django/core/handlers/base.py", "_get_response", "URL resolve + view (inside middleware)"),
    ("rest_framework/views.py", "initial", "DRF initial(): auth, permissions, negotiation"),
    ("merchants/api/authentication.py", "authenticate", "API key authentication"),
    ("rest_framework/request.py", "_parse", "request body parsing (JSON)"),
    ("rest_framework/serializers.py", "is_valid", "input serializer validation"),
    ("giftcards/selectors.py", "giftcard_get", "card pre-read (giftcard_get)"),
    ("giftcards/lookups.py", "find_card_by_code", "card by code (throttle + digest + read)"),
    ("merchants/idempotency.py", "run_idempotent", "run_idempotent (all of the write)"),
    ("merchants/idempotency.py", "fingerprint", "idempotency fingerprint"),
    ("giftcards/services.py", "giftcard_redeem", "giftcard_redeem service"),
    ("giftcards/locks.py", "lock_card", "SELECT ... FOR UPDATE (lock_card)"),
    ("giftcards/services.py", "_write", "ledger insert + balance update (_write)"),
    ("merchants/idempotency.py", "_store", "store idempotent response"),
    ("giftcards/api/views.py", "_movement", "output serializer (MoneyMovementOutput)"),
    ("giftcards/api/render.py", "movement_json", "output JSON built directly (movement_json)"),
    ("rest_framework/response.py", "rendered_content", "JSON rendering"),
    ("django/db/backends/base/base.py", "commit", "COMMIT"),
    ("django/db/backends/base/base.py", "run_and_clear_commit_hooks", "on_commit (cache busting)"),
    ("psycopg/cursor.py", "execute", "all SQL statements (psycopg execute)"),
    ("/site-packages/redis/", "*", "all Redis round trips (redis-py)"),
    ("giftcards/lookups.py", "claim", "lookup budgets joined (by code)"),
    ("core/middleware.py", "_principal", "access line: who asked"),
    ("/site-packages/structlog/", "*", "access line: structlog"),
    ("/logging/__init__.py", "*", "access line: stdlib logging handler"),
    ("django_structlog/middlewares/request.py", "prepare", "django-structlog request bind"),
    ("django_structlog/middlewares/request.py", "handle_response", "django-structlog response"),
)


def _frame_matches(frame: Any, where: str, function: str) -> bool:
    path = (frame.file_path or "").replace(os.sep, "/")
    found = where in path if where.startswith("/") else path.endswith(where)
    return found and (function == "*" or frame.function == function)


def _inclusive(root: Any, suffix: str, function: str) -> float:
    total = 0.0
    stack = [root]
    while stack:
        frame = stack.pop()
        if _frame_matches(frame, suffix, function):
            total += frame.time
            continue
        stack.extend(frame.children)
    return total


def _package(path: str, root: str) -> str:
    path = path.replace(os.sep, "/")
    marker = "site-packages/"
    if marker in path:
        return path.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    if path.startswith(root):
        return "app:" + path[len(root) :].lstrip("/").split("/", 1)[0]
    if "/lib/python3" in path:
        return "stdlib"
    return path or "?"


def _self_time_by_package(root_frame: Any, root: str) -> dict[str, float]:
    totals: dict[str, float] = {}

    def walk(frame: Any, owner: str) -> None:
        package = owner if frame.is_synthetic else _package(frame.file_path or "", root)
        own = frame.time - sum(child.time for child in frame.children)
        totals[package] = totals.get(package, 0.0) + own
        for child in frame.children:
            walk(child, package)

    walk(root_frame, "?")
    return totals


@contextmanager
def _profiler(interval: float) -> Iterator[Any]:
    from pyinstrument import Profiler

    profiler = Profiler(interval=interval)
    profiler.start()
    try:
        yield profiler
    finally:
        profiler.stop()


def _profile_one(
    api_operation: Callable[[], None], requests: int, out: Path, name: str
) -> dict[str, Any]:
    root = str(Path.cwd())  # the app's root: run.py starts this step there
    for _ in range(50):
        api_operation()
    with _profiler(0.001) as profiler:
        for _ in range(requests):
            api_operation()
    session = profiler.last_session
    (out / f"profile_{name}.txt").write_text(
        profiler.output_text(unicode=False, color=False, show_all=False)
    )
    (out / f"profile_{name}.html").write_text(profiler.output_html())
    root_frame = session.root_frame()
    wall = session.duration
    inclusive = []
    for suffix, function, label in _TARGETS:
        seconds = _inclusive(root_frame, suffix, function)
        if seconds > 0:
            inclusive.append(
                {
                    "label": label,
                    "where": f"{suffix}:{function}",
                    "ms_per_request": seconds / requests * 1000,
                    "share": seconds / wall,
                }
            )
    by_package = sorted(
        _self_time_by_package(root_frame, root).items(), key=lambda item: item[1], reverse=True
    )
    return {
        "requests": requests,
        "wall_ms_per_request": wall / requests * 1000,
        "inclusive": inclusive,
        "self_by_package": [
            {
                "package": package,
                "ms_per_request": seconds / requests * 1000,
                "share": seconds / wall,
            }
            for package, seconds in by_package[:15]
        ],
    }


def profile(out: Path, requests: int) -> None:
    """Per-request cost of each endpoint in-process (django.test.Client, production
    settings, PostgreSQL, Redis), the SQL of one request each, and a pyinstrument
    profile of ``requests`` redemptions by id and by code."""
    rows = [
        line.split("\t") for line in (out / "cards.tsv").read_text().splitlines() if line.strip()
    ]
    hot = rows[0][0]
    cards = [(row[0], row[1]) for row in rows[1:]]
    api = _Api((out / "api_key.txt").read_text().strip(), cards, hot)
    operations: dict[str, Callable[[], None]] = {
        "healthz": api.healthz,
        "read_cold": api.read_cold,
        "read_hot": api.read_hot,
        "redeem": api.redeem,
        "redeem_code": api.redeem_code,
    }
    api.read_hot()  # the cached read needs one read first
    api._merchant_id()  # resolved once, outside the measurements
    queries = {name: _capture(operation) for name, operation in operations.items()}
    queries["redeem_replay (first + replay)"] = _capture(api.redeem_replay)
    timings = {name: _time_operation(operation, 500) for name, operation in operations.items()}
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        profiles: dict[str, Any] = {"skipped": "pyinstrument is not installed in the venv"}
    else:
        profiles = {
            "redeem": _profile_one(api.redeem, requests, out, "redeem"),
            "redeem_code": _profile_one(api.redeem_code, requests // 2, out, "redeem_code"),
            "healthz": _profile_one(api.healthz, requests, out, "healthz"),
        }
    _write_json(out, "profile", {"queries": queries, "timings": timings, "profiles": profiles})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.django_tasks")
    sub = parser.add_subparsers(dest="step", required=True)
    for name in ("prepare", "check", "profile"):
        step = sub.add_parser(name)
        step.add_argument("--out", type=Path, required=True)
        if name == "prepare":
            step.add_argument("--cards", type=int, default=20_000)
        if name == "check":
            step.add_argument("--min-redeems", type=int)
            step.add_argument("--max-redeems", type=int)
        if name == "profile":
            step.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args(argv)
    _setup()
    if args.step == "prepare":
        prepare(args.out, args.cards)
    elif args.step == "check":
        check(args.out, args.min_redeems, args.max_redeems)
    else:
        profile(args.out, args.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())

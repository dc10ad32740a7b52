"""Finding a card by its code, with the brakes that make guessing pointless (GC-5).

A mistyped code is caught by its check symbol and refused without a lookup. Every other
lookup first joins each of its budgets, atomically in the shared cache (Redis in
production), and only then reaches the database: a budget admits a lookup while its
failures plus the lookups under way stay within the limit, so 30 parallel guesses
against a budget of 10 reach the database at most 10 times, while a till redeeming many
real cards at once only waits a moment for a place. Only unknown codes use a budget
up; each is also recorded as a ``FailedCodeLookup`` row.

Budgets belong to whoever is looking, through the door they use, so nobody can spend
anyone else's:
- an API key has its own budget (``key``);
- staff at the till and in the dashboard each have their own (``user``);
- a storefront or wallet visitor is counted by session or signed-in account (``visitor``)
  and, more loosely, by address (``address``: people share addresses), and every anonymous
  guess at a merchant also spends that merchant's anonymous budget (``merchant``), which
  slows guessing spread over many addresses without ever touching staff or keys.

A shopper guessing codes on a cafe's Wi-Fi therefore stops themself, and eventually that
address's public lookups, but never the cafe's till, dashboard or API key.

With 10 failures per 10 minutes per client, one client tries at most 1,440 codes a day
against a space of 2^75: finding one card would take longer than the universe is old.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from accounts.models import User
from core.counters import cache_incr, join_counters, leave_counters, leave_counters_later
from giftcards import codes
from giftcards.exceptions import CardNotFound, TooManyLookups
from giftcards.locks import lock_card_by_digest
from giftcards.models import FailedCodeLookup, GiftCard, LookupChannel
from merchants.models import ApiKey, Merchant

_PUBLIC_CHANNELS = frozenset({LookupChannel.STOREFRONT, LookupChannel.WALLET})


@dataclass(frozen=True)
class Budget:
    counter: str
    limit: int
    scope: str  # key, user, visitor, address or merchant: who is braked (for messages)


@dataclass(frozen=True)
class LookupClient:
    """Who is looking a code up, and through which door.

    ``session_key`` identifies an anonymous visitor's browser (storefront); a signed-in
    visitor is counted by ``user``. ``ip_address`` is kept with every failure and, on
    the public doors only, is a budget of its own."""

    merchant: Merchant
    channel: str
    ip_address: str | None = None
    api_key: ApiKey | None = None
    user: User | None = None
    session_key: str = ""

    def budgets(self) -> list[Budget]:
        per_client = int(settings.GIFTCARD_LOOKUP_FAILURES_PER_CLIENT)
        if self.channel == LookupChannel.API:
            if self.api_key is None:
                raise ValueError("An API lookup needs its key.")
            return [Budget(f"key:{self.api_key.pk}", per_client, "key")]
        if self.channel not in _PUBLIC_CHANNELS:  # the till and the dashboard: staff
            if self.user is None:
                raise ValueError("A staff lookup needs the signed-in person.")
            return [Budget(f"{self.channel}:user:{self.user.pk}", per_client, "user")]
        budgets: list[Budget] = []
        if self.user is not None:
            budgets.append(Budget(f"public:user:{self.user.pk}", per_client, "visitor"))
        elif self.session_key:
            budgets.append(Budget(f"public:session:{self.session_key}", per_client, "visitor"))
        if self.ip_address:
            per_address = int(settings.GIFTCARD_LOOKUP_FAILURES_PER_ADDRESS)
            budgets.append(Budget(f"public:ip:{self.ip_address}", per_address, "address"))
        per_merchant = int(settings.GIFTCARD_LOOKUP_FAILURES_PER_MERCHANT)
        budgets.append(Budget(f"public:merchant:{self.merchant.pk}", per_merchant, "merchant"))
        return budgets


def _window() -> tuple[int, int]:
    size = int(settings.GIFTCARD_LOOKUP_WINDOW_SECONDS)
    now = int(time.time())
    start = now - now % size
    return start, start + size - now


def _keys(counter: str, window_start: int) -> tuple[str, str]:
    """The budget's failures, and its lookups under way, in this window."""
    base = f"gc:lookup:{counter}:{window_start}"
    return f"{base}:failed", f"{base}:running"


# How long a lookup waits for a budget that lookups under way fill (they may all find
# their card), before it is refused as too many at once.
CLAIM_WAIT_SECONDS = 3.0


@dataclass
class Claim:
    """A lookup's place in each of its client's budgets while it runs."""

    running: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    ttl: int = 0

    def found(self) -> None:
        """The code matched a card: nothing is used up."""
        self._leave()

    def not_found(self) -> None:
        """The code matched nothing: one failure for each budget."""
        for key in self.failed:
            cache_incr(key, ttl=self.ttl)
        self._leave()

    def found_later(self) -> None:
        """``found``, sent with the request's next cache round trip (a change's
        commit) or when the request ends, rather than a round trip of its own."""
        running, self.running = self.running, []
        leave_counters_later(running)

    def _leave(self) -> None:
        running, self.running = self.running, []
        leave_counters(running)


def _try_claim(client: LookupClient) -> Claim | tuple[str, Budget, int]:
    """A place in every budget, or why not: ``spent`` (failures used it up) or ``busy``
    (failures and lookups under way fill it), with the budget and the window's rest.

    Every budget is joined at once (one round trip to Redis), then checked in order; a
    refusal leaves them all again."""
    start, remaining = _window()
    taken = Claim(ttl=remaining + 5)
    budgets = client.budgets()
    pairs = [_keys(budget.counter, start) for budget in budgets]
    joined = join_counters(
        [(running_key, failed_key) for failed_key, running_key in pairs], ttl=remaining + 5
    )
    taken.failed = [failed_key for failed_key, _ in pairs]
    taken.running = [running_key for _, running_key in pairs]
    for budget, (running, failed) in zip(budgets, joined, strict=True):
        if failed >= budget.limit or failed + running > budget.limit:
            taken.found()  # leave every budget again
            return ("spent" if failed >= budget.limit else "busy", budget, remaining)
    return taken


def claim(client: LookupClient) -> Claim:
    """Join each of the client's budgets before the database is asked, or raise
    TooManyLookups naming the first that is spent.

    A budget admits a lookup while its failures plus the lookups under way stay within
    the limit, so parallel guesses reach the database at most ``limit`` times in a
    window. When lookups under way fill it (a till redeeming many cards at once), a new
    one waits for them to finish, up to ``CLAIM_WAIT_SECONDS``."""
    deadline = time.monotonic() + CLAIM_WAIT_SECONDS
    pause = 0.005
    while True:
        outcome = _try_claim(client)
        if isinstance(outcome, Claim):
            return outcome
        why, budget, remaining = outcome
        if why == "spent" or time.monotonic() >= deadline:
            raise TooManyLookups(
                retry_after=max(1, remaining) if why == "spent" else 1,
                scope=budget.scope if why == "spent" else "busy",
                merchant_name=client.merchant.name,
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def remaining_budget(client: LookupClient) -> int:
    """How many more unknown codes the client may try in this window (for tests and
    pages); the smallest of its budgets."""
    start, _ = _window()
    left = []
    for budget in client.budgets():
        failed_key, running_key = _keys(budget.counter, start)
        counts = cache.get_many([failed_key, running_key])
        used = int(counts.get(failed_key) or 0) + int(counts.get(running_key) or 0)
        left.append(budget.limit - used)
    return min(left)


def record_failure(client: LookupClient) -> None:
    FailedCodeLookup.objects.create(
        merchant=client.merchant,
        channel=client.channel,
        ip_address=client.ip_address,
        api_key=client.api_key,
        user=client.user,
    )


def _normalised_or_typo(code: str) -> str:
    try:
        return codes.normalise(code)
    except codes.InvalidCode:
        # The check symbol caught a typo without a database lookup. Not counted: it
        # cannot match any card, and anyone guessing computes valid check symbols anyway.
        raise CardNotFound(
            "That is not a valid gift card code: check it for typos (16 characters)."
        ) from None


def lock_card_by_code(*, client: LookupClient, code: str) -> GiftCard:
    """Inside the caller's transaction: find and lock the card in one query. An unknown
    code is recorded once the transaction has rolled back (``after_rollback``)."""
    digest = codes.digest(_normalised_or_typo(code))
    taken = claim(client)
    try:
        card = lock_card_by_digest(merchant=client.merchant, code_digest=digest)
    except BaseException:
        taken.found()  # the database failed, not the code
        raise
    if card is None:
        taken.not_found()
        error = CardNotFound("No gift card matches that code.")
        error.after_rollback.append(lambda: record_failure(client))
        raise error
    # Found: the budgets are left with the round trip that forgets the card's cache
    # entry once the change commits, or when the request ends (core.counters).
    taken.found_later()
    return card


def find_card_by_code(*, client: LookupClient, code: str) -> GiftCard:
    """The merchant's card with this code, or CardNotFound (and one more failure)."""
    digest = codes.digest(_normalised_or_typo(code))
    taken = claim(client)
    try:
        card = (
            GiftCard.objects.filter(merchant=client.merchant, code_digest=digest)
            .select_related("product")
            .first()
        )
    except BaseException:
        taken.found()  # the database failed, not the code
        raise
    if card is None:
        taken.not_found()
        record_failure(client)
        raise CardNotFound("No gift card matches that code.")
    taken.found()
    return card

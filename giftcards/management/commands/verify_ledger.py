"""``manage.py verify_ledger [--merchant SLUG]``: every card's balance against its ledger (GC-2).

For each card two things must hold: the stored ``balance`` equals the sum of the card's
ledger amounts, and the newest ledger row's ``balance_after`` equals the ``balance``.
A card with no ledger row at all fails too: every card is issued with an ``issue`` row.

Cards are read in chunks by id; each chunk is one query that carries the ledger sum,
the row count and the newest ``balance_after`` as subqueries over the
(merchant, gift card) index, so the cost does not grow with one query per card. As
one statement sees one snapshot, a card and its ledger are always read together, and
the check can run against a live system without false alarms from redemptions in flight.
Exit status 0 only when every card agrees.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from giftcards.models import GiftCard, Transaction
from merchants.models import Merchant


def _card_ledger() -> QuerySet[Transaction]:
    # Filtering on merchant_id too keeps the subquery on the txn_merchant_card_created
    # index and inside one merchant's shard (SPEC "Scale").
    return Transaction.objects.filter(
        merchant_id=OuterRef("merchant_id"), gift_card_id=OuterRef("pk")
    ).order_by()


class Command(BaseCommand):
    help = "Check every gift card's balance against its ledger; exit non-zero on any mismatch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--merchant", metavar="SLUG", help="Check one merchant's cards only.")
        parser.add_argument(
            "--chunk-size", type=int, default=1000, help="Cards read per query (default 1000)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        chunk_size: int = options["chunk_size"]
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1.")
        cards = GiftCard.objects.all()
        if options["merchant"]:
            merchant = Merchant.objects.filter(slug=options["merchant"]).first()
            if merchant is None:
                raise CommandError(f"No merchant with the slug {options['merchant']!r}.")
            cards = cards.filter(merchant=merchant)

        cards = cards.annotate(
            ledger_sum=Coalesce(
                Subquery(
                    _card_ledger().values("gift_card_id").annotate(s=Sum("amount")).values("s"),
                    output_field=IntegerField(),
                ),
                0,
            ),
            ledger_rows=Coalesce(
                Subquery(
                    _card_ledger().values("gift_card_id").annotate(n=Count("id")).values("n"),
                    output_field=IntegerField(),
                ),
                0,
            ),
            # Newest by id: rows of one card are written under its row lock, so id order
            # is write order even if two servers' clocks disagree about created_at.
            latest_balance_after=Subquery(
                _card_ledger().order_by("-id").values("balance_after")[:1],
                output_field=IntegerField(),
            ),
        ).order_by("pk")

        checked = 0
        mismatches = 0
        last_id = 0
        while True:
            chunk = list(
                cards.filter(pk__gt=last_id).values_list(
                    "pk",
                    "public_id",
                    "merchant__slug",
                    "currency",
                    "balance",
                    "ledger_sum",
                    "ledger_rows",
                    "latest_balance_after",
                )[:chunk_size]
            )
            if not chunk:
                break
            last_id = chunk[-1][0]
            checked += len(chunk)
            for _, public_id, slug, currency, balance, total, rows, latest in chunk:
                problems = []
                if rows == 0:
                    problems.append("no ledger entries")
                if balance != total:
                    problems.append("balance differs from ledger sum")
                if rows and latest != balance:
                    problems.append("latest balance_after differs from balance")
                if problems:
                    mismatches += 1
                    self.stdout.write(
                        f"MISMATCH {public_id} merchant={slug} currency={currency} "
                        f"balance={balance} ledger_sum={total} "
                        f"latest_balance_after={latest if rows else '-'}: " + "; ".join(problems)
                    )

        summary = f"Checked {checked} cards: {mismatches} mismatches."
        if mismatches:
            self.stdout.write(self.style.ERROR(summary))
            raise CommandError(
                f"The ledger does not match {mismatches} card balance(s).", returncode=1
            )
        self.stdout.write(self.style.SUCCESS(summary))

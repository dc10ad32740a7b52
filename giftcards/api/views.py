"""API v1 gift card endpoints: one view per operation. Each validates its input, calls a
service or selector, and shapes the output; the rules live in ``giftcards.services``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_schema import api_operation
from core.net import client_ip
from core.pagination import LimitCursorPagination, PageParameters
from giftcards import cache as card_cache
from giftcards import codes, selectors, services
from giftcards.api import examples as ex
from giftcards.api import serializers as s
from giftcards.api.render import card_json, movement_json, transaction_json
from giftcards.exceptions import ProductUnavailable
from giftcards.idempotency import api_key as api_money_key
from giftcards.lookups import LookupClient, find_card_by_code
from giftcards.models import GiftCard, LookupChannel, Transaction
from merchants.api.authentication import ApiClient
from merchants.api.schema import IDEMPOTENCY_HEADER, IDEMPOTENCY_REFUSALS
from merchants.idempotency import idempotency_key, run_idempotent, stored_with_write
from merchants.models import ApiKey
from merchants.tenancy import MerchantAPIMixin

CARDS = "Gift cards"
MOVED = OpenApiResponse(
    s.MoneyMovementOutput,
    description="Done: the new ledger entry (`transaction`) and the card after it (`gift_card`).",
)
TRANSACTIONS = "Transactions"

CARD_ID = OpenApiParameter(
    "card_id",
    str,
    OpenApiParameter.PATH,
    description="The card's `id` (`gc_...`), as issuing or listing returned it.",
    examples=[OpenApiExample("A card id", value=ex.CARD["id"])],
)
TRANSACTION_ID = OpenApiParameter(
    "transaction_id",
    str,
    OpenApiParameter.PATH,
    description="The `id` (`txn_...`) of the redemption to refund.",
)


def _seal_code(body: dict[str, Any]) -> dict[str, Any]:
    """Keep a new card's code out of the idempotency store: store it encrypted."""
    return {**body, "code": {"sealed": codes.encrypt(codes.normalise(body["code"]))}}


def _unseal_code(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "code": codes.format_code(codes.decrypt(body["code"]["sealed"]))}


def _money(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "amount": values["amount"],
        "currency": values.get("currency"),
        "reference": values.get("reference", ""),
    }


def _movement(txn: Transaction) -> dict[str, Any]:
    return movement_json(txn)


class GiftCardAPIView(MerchantAPIMixin, APIView):
    """Shared by the gift card views (not an endpoint): the tenant comes from the key,
    each view declares the scopes of its methods."""

    def _client(self, request: Request) -> LookupClient:
        return LookupClient(
            merchant=self.merchant,
            channel=LookupChannel.API,
            ip_address=client_ip(request),
            api_key=self.api_key,
        )

    @property
    def api_key(self) -> ApiKey:
        client: ApiClient = self.request.user
        return client.api_key

    def _move(
        self,
        request: Request,
        act: Callable[..., Transaction],
        *,
        status_code: int = status.HTTP_201_CREATED,
        answer_in_write: bool = False,
        **arguments: Any,
    ) -> Response:
        """Run a money movement at most once per idempotency key and answer with the
        ledger entry and the card: ``act(**arguments, actor=..., idempotency_key=...)``.

        ``answer_in_write``: the movement writes one ledger row, and the stored answer
        may go into that write's statement (``stored_with_write``)."""

        def move() -> Transaction:
            return act(
                **arguments,
                actor=self.api_key,
                idempotency_key=api_money_key(idempotency_key(request)),
            )

        def operation() -> Response:
            if answer_in_write:
                with stored_with_write(render=_movement, status=status_code):
                    txn = move()
            else:
                txn = move()
            return Response(_movement(txn), status=status_code)

        return run_idempotent(request, merchant=self.merchant, operation=operation)

    def _card(self, public_id: str) -> GiftCard:
        return selectors.giftcard_get(merchant=self.merchant, public_id=public_id)


class GiftCardCollectionView(GiftCardAPIView):
    required_scopes = {"GET": ("cards:read",), "POST": ("cards:write",)}

    @api_operation(
        operation_id="gift_cards_list",
        tag=CARDS,
        summary="List gift cards",
        description="The merchant's cards, newest first, a page at a time. Narrow the list "
        "with `status`, `created_after` and `created_before`; follow `next` for the next "
        "page until it is `null`. Card codes are never listed.\n\n"
        "Query parameters are checked, never ignored: an unknown or repeated parameter, an "
        "empty `status`, a date without a time zone or a `limit` outside 1 to 100 is a 400 "
        "naming the parameter. Example: "
        "`GET /api/v1/gift-cards/?status=active&created_after=2026-07-01T00:00:00Z&limit=50`.",
        query=s.ListFilters,
        responses={200: OpenApiResponse(s.GiftCardPage, description="A page of cards.")},
        examples=[
            ex.response(
                "A page of cards",
                {
                    "results": [ex.CARD],
                    "next": "https://giftwell.example/api/v1/gift-cards/?cursor=cD0yMDI2&limit=1",
                    "previous": None,
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        filters = s.ListFilters.parse(request.query_params)
        # Built from the checked parameters only, in one order, so one list has one key.
        cache_key = card_cache.list_key(self.merchant.pk, urlencode(sorted(request.GET.items())))
        cached = card_cache.get(cache_key)
        if cached is not None:
            return Response(cached)
        paginator = LimitCursorPagination()
        cards = selectors.giftcard_list(
            merchant=self.merchant,
            status=filters.get("status"),
            created_after=filters.get("created_after"),
            created_before=filters.get("created_before"),
        )
        page = paginator.paginate_queryset(cards, request, view=self)
        body = [card_json(card) for card in page or []]
        response = paginator.get_paginated_response(body)
        card_cache.put(cache_key, response.data, card_cache.LIST_TTL)
        return response

    @api_operation(
        operation_id="gift_cards_issue",
        tag=CARDS,
        summary="Issue a gift card",
        description="Creates an active card holding `amount` (minor units) in `currency`, "
        "and its `issue` ledger entry. The response is the only one that ever shows the full "
        "`code`: give it to the customer or store it now; later responses show `last4` only. "
        "With `recipient_email` or `recipient_phone` the card is also sent to that person.\n\n"
        "A `product` sets the amounts, currency, expiry and reloadability the card may have; "
        "without one the card is reloadable and expires by the platform's rule unless "
        "`expires_at` says otherwise. Fields not listed here are refused with 400 (there is "
        "no `reloadable` field: reloadability follows the product). Send an "
        "`Idempotency-Key` so that a retry after a timeout cannot issue a second card.",
        request=s.IssueInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: OpenApiResponse(
                s.IssuedGiftCardOutput,
                description="The new card, with its full `code` (shown this once).",
            )
        },
        refusals=[
            ex.INVALID_ISSUE_AMOUNT,
            ex.INVALID_EXPIRY,
            *IDEMPOTENCY_REFUSALS,
            ex.PRODUCT_UNAVAILABLE,
            ex.CURRENCY_MISMATCH,
        ],
        examples=[
            ex.request(
                "Issue 25.00 EUR and email it",
                {
                    "amount": 2500,
                    "currency": "EUR",
                    "recipient_email": "ana@example.com",
                    "metadata": {"order": "1001"},
                },
            ),
            ex.response("The new card, with its code", ex.ISSUED_CARD, 201),
        ],
    )
    def post(self, request: Request) -> Response:
        data = s.IssueInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        product = None
        if values.pop("product", None):
            product = selectors.product_get(
                merchant=self.merchant, public_id=request.data["product"]
            )
            if product is None:
                raise ProductUnavailable("No product with that id.")

        def issue() -> Response:
            issued = services.giftcard_issue(
                merchant=self.merchant,
                product=product,
                actor=self.api_key,
                idempotency_key=api_money_key(idempotency_key(request)),
                **values,
            )
            body = {**card_json(issued.card), "code": codes.format_code(issued.code)}
            return Response(body, status=status.HTTP_201_CREATED)

        return run_idempotent(
            request, merchant=self.merchant, operation=issue, seal=_seal_code, unseal=_unseal_code
        )


class GiftCardDetailView(GiftCardAPIView):
    required_scopes = ("cards:read",)

    @api_operation(
        operation_id="gift_cards_retrieve",
        tag=CARDS,
        summary="Get a gift card",
        description="One card by its `id`: balance, status, expiry. The code is not shown. "
        "A card of another merchant is answered 404, as if it did not exist.",
        parameters=[CARD_ID],
        responses={200: OpenApiResponse(s.GiftCardOutput, description="The card.")},
        refusals=[ex.CARD_NOT_FOUND],
        examples=[ex.response("A card", ex.CARD)],
    )
    def get(self, request: Request, card_id: str) -> Response:
        key = card_cache.card_key(self.merchant.pk, card_id)
        cached = card_cache.get(key)
        if cached is not None:
            return Response(cached)
        body = card_json(self._card(card_id))
        card_cache.put(key, body, card_cache.CARD_TTL)
        return Response(body)


class GiftCardLookupView(GiftCardAPIView):
    required_scopes = ("cards:read",)

    @api_operation(
        operation_id="gift_cards_lookup",
        tag=CARDS,
        summary="Find a card by its code (balance check)",
        description="Finds the card a customer holds from its `code`, to show its balance "
        "before a sale. The code goes in the body, never in the URL, so it stays out of "
        "logs. It may be typed loosely: case, spaces and dashes do not matter, nor O for 0 "
        "or I/L for 1.\n\n"
        "Unknown codes are counted per key: after too many, lookups by code with this key "
        "are paused (429 with `Retry-After`; other keys are not affected). Nothing is "
        "changed on the card.",
        request=s.LookupInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={200: OpenApiResponse(s.GiftCardOutput, description="The card.")},
        refusals=[*IDEMPOTENCY_REFUSALS, ex.CODE_NOT_FOUND, ex.LOOKUPS_PAUSED],
        examples=[
            ex.request("A code as typed at the till", {"code": "7kq2 m9xd 4htr zb6y"}),
            ex.response("The card", ex.CARD),
        ],
    )
    def post(self, request: Request) -> Response:
        data = s.LookupInput(data=request.data)
        data.is_valid(raise_exception=True)
        # Outside any transaction: a failed lookup is counted and recorded even though
        # the request ends in an error.
        card = find_card_by_code(client=self._client(request), code=data.validated_data["code"])
        return run_idempotent(
            request,
            merchant=self.merchant,
            operation=lambda: Response(card_json(card)),
        )


_REDEEM_REFUSALS = [
    ex.INVALID_AMOUNT,
    *IDEMPOTENCY_REFUSALS,
    ex.INSUFFICIENT_FUNDS,
    ex.CARD_NOT_ACTIVE,
    ex.CURRENCY_MISMATCH,
]


class GiftCardRedeemView(GiftCardAPIView):
    required_scopes = ("cards:redeem",)

    @api_operation(
        operation_id="gift_cards_redeem",
        tag=CARDS,
        summary="Spend from a card",
        description="Takes `amount` (minor units) off the card's balance and answers with "
        "the new ledger entry and the card. Never spends more than the balance, whatever "
        "runs beside it: a spend over the balance is refused with `insufficient_funds` and "
        "nothing is spent (spend the `balance` it reports, and take the rest another way). "
        "Send `currency` to have a card in another currency refused rather than charged.\n\n"
        "Send an `Idempotency-Key` (e.g. the till's receipt number): a retry with the same "
        "key and body answers the first response again and spends nothing more.",
        request=s.RedeemInput,
        parameters=[CARD_ID, IDEMPOTENCY_HEADER],
        responses={201: MOVED},
        refusals=[ex.CARD_NOT_FOUND, *_REDEEM_REFUSALS],
        examples=[
            ex.request("Spend 12.50", {"amount": 1250, "reference": "POS-0042"}),
            ex.response("Spent", ex.movement("redeem", -1250, 1250), 201),
        ],
    )
    def post(self, request: Request, card_id: str) -> Response:
        data = s.RedeemInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._move(
            request,
            services.giftcard_redeem,
            answer_in_write=True,
            merchant=self.merchant,
            public_id=card_id,
            **_money(data.validated_data),
        )


class GiftCardRedeemByCodeView(GiftCardRedeemView):
    @api_operation(
        operation_id="gift_cards_redeem_by_code",
        tag=CARDS,
        summary="Spend from a card found by its code (the till's call)",
        description="Finds the card by `code` and spends `amount` from it in one call, as a "
        "till does when a card is scanned: the same rules as spending by id, and the same "
        "lookup budget as finding a card by its code (unknown codes count; too many pause "
        "lookups by code for this key with 429).\n\n"
        "Send an `Idempotency-Key` so that a retry cannot spend twice.",
        request=s.RedeemByCodeInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: MOVED},
        refusals=[ex.CODE_NOT_FOUND, *_REDEEM_REFUSALS, ex.LOOKUPS_PAUSED],
        examples=[
            ex.request("Scan and spend", {"code": "7kq2 m9xd 4htr zb6y", "amount": 1250}),
            ex.response("Spent", ex.movement("redeem", -1250, 1250), 201),
        ],
    )
    def post(self, request: Request) -> Response:  # type: ignore[override]
        data = s.RedeemByCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        return self._move(
            request,
            services.giftcard_redeem_by_code,
            answer_in_write=True,
            client=self._client(request),
            code=values["code"],
            **_money(values),
        )


class GiftCardReloadView(GiftCardAPIView):
    required_scopes = ("cards:write",)

    @api_operation(
        operation_id="gift_cards_reload",
        tag=CARDS,
        summary="Add money to a reloadable card",
        description="Adds `amount` (minor units) to the card's balance with a `reload` "
        "ledger entry. Only reloadable cards (see the card's `reloadable`) that are active "
        "can be reloaded; a card spent to zero stays active and can be. Send an "
        "`Idempotency-Key` so that a retry cannot add twice.",
        request=s.ReloadInput,
        parameters=[CARD_ID, IDEMPOTENCY_HEADER],
        responses={201: MOVED},
        refusals=[
            ex.CARD_NOT_FOUND,
            ex.INVALID_RELOAD_AMOUNT,
            *IDEMPOTENCY_REFUSALS,
            ex.CARD_NOT_RELOADABLE,
            ex.CARD_NOT_ACTIVE,
            ex.CURRENCY_MISMATCH,
        ],
        examples=[
            ex.request("Add 20.00", {"amount": 2000, "reference": "TOPUP-77"}),
            ex.response("Reloaded", ex.movement("reload", 2000, 3250, reference="TOPUP-77"), 201),
        ],
    )
    def post(self, request: Request, card_id: str) -> Response:
        data = s.ReloadInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._move(
            request,
            services.giftcard_reload,
            merchant=self.merchant,
            public_id=card_id,
            **_money(data.validated_data),
        )


class GiftCardVoidView(GiftCardAPIView):
    required_scopes = ("cards:write",)

    @api_operation(
        operation_id="gift_cards_void",
        tag=CARDS,
        summary="Void a card",
        description="Deactivates the card for good, for example when it was sold in error "
        "or reported stolen. Any balance leaves through a `void` ledger entry, and the card "
        "can no longer be spent, reloaded or refunded to. The body may be empty (`{}`); a "
        "`reason` is kept in the audit log.",
        request=s.VoidInput,
        parameters=[CARD_ID, IDEMPOTENCY_HEADER],
        responses={200: MOVED},
        refusals=[ex.CARD_NOT_FOUND, *IDEMPOTENCY_REFUSALS, ex.CARD_ALREADY_INACTIVE],
        examples=[
            ex.request("Void with a reason", {"reason": "Reported stolen"}),
            ex.response(
                "Voided",
                {
                    "transaction": {
                        **ex.REDEMPTION,
                        "kind": "void",
                        "amount": -1250,
                        "balance_after": 0,
                        "reference": "",
                        "reason": "Reported stolen",
                    },
                    "gift_card": {**ex.CARD, "balance": 0, "status": "void"},
                },
            ),
        ],
    )
    def post(self, request: Request, card_id: str) -> Response:
        data = s.VoidInput(data=request.data)
        data.is_valid(raise_exception=True)

        return self._move(
            request,
            services.giftcard_void,
            status_code=status.HTTP_200_OK,
            merchant=self.merchant,
            public_id=card_id,
            reason=data.validated_data.get("reason", ""),
        )


class GiftCardTransactionsView(GiftCardAPIView):
    required_scopes = ("cards:read",)

    @api_operation(
        operation_id="gift_cards_transactions",
        tag=TRANSACTIONS,
        summary="A card's ledger, newest first",
        description="Every movement of the card's balance (`issue`, `redeem`, `reload`, "
        "`refund`, `adjust`, `expire`, `void`), newest first, a page at a time. `amount` is "
        "signed (spending is negative) and `balance_after` is the balance it left. Use a "
        "redemption's `id` to refund it.",
        query=PageParameters,
        parameters=[CARD_ID],
        responses={200: OpenApiResponse(s.TransactionPage, description="A page of the ledger.")},
        refusals=[ex.CARD_NOT_FOUND],
        examples=[
            ex.response(
                "A page of the ledger",
                {
                    "results": [
                        ex.REDEMPTION,
                        {
                            **ex.REDEMPTION,
                            "id": "txn_01j9z3k7q9a1b3c5d7e9f1g3h5",
                            "kind": "issue",
                            "amount": 2500,
                            "balance_after": 2500,
                            "reference": "",
                            "created_at": ex.CARD["created_at"],
                        },
                    ],
                    "next": None,
                    "previous": None,
                },
            )
        ],
    )
    def get(self, request: Request, card_id: str) -> Response:
        PageParameters.parse(request.query_params)
        card = self._card(card_id)
        paginator = LimitCursorPagination()
        txns = selectors.transaction_list(merchant=self.merchant, gift_card=card)
        page = paginator.paginate_queryset(txns, request, view=self)
        body = [transaction_json(txn, card=card) for txn in page or []]
        return paginator.get_paginated_response(body)


class TransactionRefundView(GiftCardAPIView):
    required_scopes = ("cards:write",)

    @api_operation(
        operation_id="transactions_refund",
        tag=TRANSACTIONS,
        summary="Refund all or part of a redemption",
        description="Gives back to the card all or part (`amount`) of a redemption, with a "
        "`refund` ledger entry whose `refund_of` is the redemption. Leave `amount` out to "
        "refund all that is left of it. Several partial refunds may follow one another, "
        "never adding up to more than was redeemed. Send an `Idempotency-Key` so that a "
        "retry cannot refund twice.",
        request=s.RefundInput,
        parameters=[TRANSACTION_ID, IDEMPOTENCY_HEADER],
        responses={201: MOVED},
        refusals=[
            ex.TRANSACTION_NOT_FOUND,
            ex.INVALID_AMOUNT,
            *IDEMPOTENCY_REFUSALS,
            ex.REFUND_EXCEEDS_REDEMPTION,
            ex.NOT_REFUNDABLE,
            ex.REFUND_CARD_NOT_ACTIVE,
        ],
        examples=[
            ex.request("Refund 5.00", {"amount": 500, "reason": "Item returned"}),
            ex.response(
                "Refunded",
                ex.movement(
                    "refund",
                    500,
                    1750,
                    id="txn_01j9z7e3g5j7l9n1q3s5u7w9y1",
                    reason="Item returned",
                    refund_of=ex.REDEMPTION["id"],
                ),
                201,
            ),
        ],
    )
    def post(self, request: Request, transaction_id: str) -> Response:
        data = s.RefundInput(data=request.data)
        data.is_valid(raise_exception=True)
        txn = selectors.transaction_get(merchant=self.merchant, public_id=transaction_id)
        values = data.validated_data

        return self._move(
            request,
            services.transaction_refund,
            merchant=self.merchant,
            transaction_id=txn.pk,
            amount=values.get("amount"),
            reason=values.get("reason", ""),
            reference=values.get("reference", ""),
        )

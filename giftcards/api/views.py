"""API v1 gift card endpoints: one view per operation. Each validates its input, calls a
service or selector, and shapes the output; the rules live in ``giftcards.services``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_schema import problem_responses
from core.net import client_ip
from core.pagination import LimitCursorPagination, PageParameters
from giftcards import cache as card_cache
from giftcards import codes, selectors, services
from giftcards.api import serializers as s
from giftcards.api.render import card_json, movement_json, transaction_json
from giftcards.exceptions import ProductUnavailable
from giftcards.lookups import LookupClient, find_card_by_code, lock_card_by_code
from giftcards.models import GiftCard, LookupChannel, Transaction
from merchants.api.authentication import ApiClient
from merchants.idempotency import idempotency_key, run_idempotent
from merchants.models import ApiKey
from merchants.tenancy import MerchantAPIMixin

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    description="Retry safely: the same key and body replays the first response.",
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
    """Base for gift card endpoints: tenant from the key, scopes per method."""

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
        **arguments: Any,
    ) -> Response:
        """Run a money movement at most once per idempotency key and answer with the
        ledger entry and the card: ``act(**arguments, actor=..., idempotency_key=...)``."""

        def operation() -> Response:
            txn = act(**arguments, actor=self.api_key, idempotency_key=idempotency_key(request))
            return Response(_movement(txn), status=status_code)

        return run_idempotent(request, merchant=self.merchant, operation=operation)

    def _card(self, public_id: str) -> GiftCard:
        return selectors.giftcard_get(merchant=self.merchant, public_id=public_id)


class GiftCardCollectionView(GiftCardAPIView):
    required_scopes = {"GET": ("cards:read",), "POST": ("cards:write",)}

    @extend_schema(
        operation_id="gift_cards_list",
        summary="List gift cards",
        parameters=[s.ListFilters],
        responses={200: s.GiftCardPage, **problem_responses(400, 401)},
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

    @extend_schema(
        operation_id="gift_cards_issue",
        summary="Issue a gift card",
        description="Creates an active card holding `amount`. The response is the only one "
        "that ever shows the full `code`.",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.IssueInput,
        responses={201: s.IssuedGiftCardOutput, **problem_responses(400, 409, 422)},
        examples=[
            OpenApiExample(
                "Issue 25.00 EUR",
                value={"amount": 2500, "currency": "EUR", "recipient_email": "ana@example.com"},
                request_only=True,
            )
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
                idempotency_key=idempotency_key(request),
                **values,
            )
            body = {**card_json(issued.card), "code": codes.format_code(issued.code)}
            return Response(body, status=status.HTTP_201_CREATED)

        return run_idempotent(
            request, merchant=self.merchant, operation=issue, seal=_seal_code, unseal=_unseal_code
        )


class GiftCardDetailView(GiftCardAPIView):
    required_scopes = ("cards:read",)

    @extend_schema(
        operation_id="gift_cards_retrieve",
        summary="Get a gift card",
        responses={200: s.GiftCardOutput, **problem_responses(404)},
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

    @extend_schema(
        operation_id="gift_cards_lookup",
        summary="Find a card by its code (balance check)",
        description="The code goes in the body, never in the URL. Unknown codes are "
        "throttled per key and per address: 429 with `Retry-After` when exceeded.",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.LookupInput,
        responses={200: s.GiftCardOutput, **problem_responses(404, 429)},
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


class GiftCardRedeemView(GiftCardAPIView):
    required_scopes = ("cards:redeem",)

    @extend_schema(
        operation_id="gift_cards_redeem",
        summary="Spend from a card",
        description="Never spends more than the balance, whatever runs beside it: a spend "
        "over the balance is refused with `insufficient_funds` and nothing is spent.",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.RedeemInput,
        examples=[
            OpenApiExample(
                "Spend 12.50", value={"amount": 1250, "reference": "POS-0042"}, request_only=True
            ),
            OpenApiExample(
                "Not enough on the card",
                value={
                    "type": "about:blank#insufficient_funds",
                    "status": 422,
                    "title": "Insufficient funds",
                    "detail": "The card holds 700; 1250 was asked.",
                    "code": "insufficient_funds",
                    "balance": 700,
                    "currency": "EUR",
                },
                response_only=True,
                status_codes=["422"],
            ),
        ],
        responses={201: s.MoneyMovementOutput, **problem_responses(400, 404, 409, 422)},
    )
    def post(self, request: Request, card_id: str) -> Response:
        data = s.RedeemInput(data=request.data)
        data.is_valid(raise_exception=True)
        return self._move(
            request,
            services.giftcard_redeem,
            merchant=self.merchant,
            public_id=card_id,
            **_money(data.validated_data),
        )


class GiftCardRedeemByCodeView(GiftCardRedeemView):
    @extend_schema(
        operation_id="gift_cards_redeem_by_code",
        summary="Spend from a card found by its code (the till's call)",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.RedeemByCodeInput,
        examples=[
            OpenApiExample(
                "Scan and spend",
                value={"code": "7kq2 m9xd 4htr zb6y", "amount": 1250},
                request_only=True,
            )
        ],
        responses={201: s.MoneyMovementOutput, **problem_responses(400, 404, 409, 422, 429)},
    )
    def post(self, request: Request) -> Response:  # type: ignore[override]
        data = s.RedeemByCodeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        client = self._client(request)

        def redeem(**arguments: Any) -> Transaction:
            # Found and locked in one query; an unknown code is counted after rollback.
            card = lock_card_by_code(client=client, code=values["code"])
            return services.giftcard_redeem_locked_card(card=card, **arguments)

        return self._move(request, redeem, **_money(values))


class GiftCardReloadView(GiftCardAPIView):
    required_scopes = ("cards:write",)

    @extend_schema(
        operation_id="gift_cards_reload",
        summary="Add money to a reloadable card",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.ReloadInput,
        responses={201: s.MoneyMovementOutput, **problem_responses(400, 404, 422)},
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

    @extend_schema(
        operation_id="gift_cards_void",
        summary="Void a card",
        description="Deactivates the card for good; any balance leaves through a `void` entry.",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.VoidInput,
        responses={200: s.MoneyMovementOutput, **problem_responses(404, 422)},
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

    @extend_schema(
        operation_id="gift_cards_transactions",
        summary="A card's ledger, newest first",
        parameters=[PageParameters],
        responses={200: s.TransactionPage, **problem_responses(400, 404)},
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

    @extend_schema(
        operation_id="transactions_refund",
        summary="Refund all or part of a redemption",
        parameters=[IDEMPOTENCY_HEADER],
        request=s.RefundInput,
        responses={201: s.MoneyMovementOutput, **problem_responses(400, 404, 422)},
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

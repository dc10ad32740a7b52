"""``GET /api/v1/merchant/``: the merchant an API key belongs to (a key check for
integrators)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_schema import api_operation
from merchants.tenancy import MerchantAPIMixin


class MerchantOutput(serializers.Serializer[object]):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    slug = serializers.CharField()
    currency = serializers.CharField(help_text="The merchant's default currency (ISO 4217).")
    status = serializers.CharField()


class CurrentMerchantView(MerchantAPIMixin, APIView):
    # Any usable key may ask which merchant it belongs to: that is the key check.
    required_scopes: dict[str, tuple[str, ...]] = {"GET": ()}

    @api_operation(
        operation_id="merchant_retrieve",
        tag="Merchant",
        summary="The API key's merchant",
        description="Which merchant the key acts for. Every key may call it, whatever its "
        "scopes, so it is the way to check that a key works: 200 with the merchant, or 401 "
        "for a key that is unknown, revoked or expired.",
        responses={200: OpenApiResponse(MerchantOutput, description="The key's merchant.")},
        examples=[
            OpenApiExample(
                "The merchant",
                value={
                    "id": "mer_01j9z0a2b4c6d8e0f2g4h6j8k0",
                    "name": "Bluebird Coffee",
                    "slug": "bluebird",
                    "currency": "EUR",
                    "status": "active",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        return Response(MerchantOutput(self.merchant).data)

"""``GET /api/v1/merchant/``: the merchant an API key belongs to (a key check for
integrators)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_schema import problem_responses
from merchants.tenancy import MerchantAPIMixin


class MerchantOutput(serializers.Serializer[object]):
    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    slug = serializers.CharField()
    currency = serializers.CharField()
    status = serializers.CharField()


class CurrentMerchantView(MerchantAPIMixin, APIView):
    # Any usable key may ask which merchant it belongs to: that is the key check.
    required_scopes: dict[str, tuple[str, ...]] = {"GET": ()}

    @extend_schema(
        responses={200: MerchantOutput, **problem_responses()}, summary="The API key's merchant"
    )
    def get(self, request: Request) -> Response:
        return Response(MerchantOutput(self.merchant).data)

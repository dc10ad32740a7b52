"""OpenAPI pieces that belong to merchant API keys: the key scheme, the scope each
operation needs, and the ``Idempotency-Key`` header every POST takes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from core.api_schema import PROBLEM_MEDIA_TYPE, Refusal
from merchants.idempotency import HEADER, IdempotencyKeyReused, InvalidIdempotencyKey
from merchants.tenancy import scopes_required


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "merchants.api.authentication.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "gk_live_<prefix>_<secret>",
            "description": "A merchant API key: `Authorization: Bearer gk_live_...`. "
            "Every request acts for that key's merchant only.",
        }


class MerchantKeySchema(AutoSchema):
    """Says in each operation which scopes its key needs, read from the view's
    ``required_scopes`` (the same table ``HasMerchantScope`` enforces), and documents 403
    only where a scope is needed."""

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation: dict[str, Any] | None = super().get_operation(*args, **kwargs)
        if operation is None or getattr(self.view, "required_scopes", None) is None:
            return operation
        scopes = scopes_required(self.view, self.method) or ()
        needs = ", ".join(f"`{scope}`" for scope in scopes) or "none: any usable key"
        operation["description"] = (
            f"{operation.get('description', '')}\n\n**API key scope:** {needs}.".strip()
        )
        forbidden = operation.get("responses", {}).get("403")
        if forbidden is not None and not scopes:
            del operation["responses"]["403"]
        elif forbidden is not None:
            example = forbidden["content"][PROBLEM_MEDIA_TYPE]["examples"]["PermissionDenied"]
            detail = f"This API key lacks the scope(s): {', '.join(scopes)}."
            example["value"] = {**example["value"], "detail": detail}
        return operation


IDEMPOTENCY_HEADER = OpenApiParameter(
    name=HEADER,
    type={"type": "string", "maxLength": 255, "pattern": "^[!-~]*$"},
    location=OpenApiParameter.HEADER,
    required=False,
    description="Makes a retry safe: send the same key with the same body and the first "
    "response comes back again (with `Idempotent-Replayed: true`), and nothing is done "
    "twice. 1 to 255 visible ASCII characters, e.g. a UUID; kept at least 24 hours. "
    "Another body with a used key is refused with 409. An empty value is the same as none.",
)

IDEMPOTENCY_REFUSALS = (
    Refusal.of(
        InvalidIdempotencyKey,
        when="the `Idempotency-Key` header is longer than 255 characters or has spaces or "
        "characters outside visible ASCII",
        detail="The Idempotency-Key header must be 1 to 255 visible ASCII characters.",
    ),
    Refusal.of(
        IdempotencyKeyReused,
        when="this `Idempotency-Key` was used before with a different request; use a new "
        "key for a new request",
        detail="This Idempotency-Key was used with a different request. Use a new key.",
    ),
)

"""The one tenancy mechanism. Every merchant-scoped HTML view uses ``MerchantViewMixin``;
every merchant-scoped API view uses ``MerchantAPIMixin`` with ``HasMerchantScope``.

Both resolve the current merchant in one place (the signed-in user's membership for
HTML, the API key for the API) and build querysets from it with ``scoped()``. A
merchant the caller does not belong to does not exist for them: 404, never 403.
A URL-walking test fails if a view under ``/m/<slug>/`` or ``/api/v1/`` skips them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest, HttpResponseBase
from rest_framework import exceptions, permissions

from accounts.http import signed_in_user
from accounts.models import User
from merchants.models import Membership, Merchant, MerchantStatus, Role

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView

M = TypeVar("M", bound=models.Model)


def scoped(model_or_qs: type[M] | models.QuerySet[M], merchant: Merchant) -> models.QuerySet[M]:
    """The queryset of ``model`` rows that belong to ``merchant``. Refuses models that do
    not carry ``merchant`` themselves, so a scoped query can never silently span tenants."""
    qs = model_or_qs._default_manager.all() if isinstance(model_or_qs, type) else model_or_qs
    try:
        qs.model._meta.get_field("merchant")
    except FieldDoesNotExist as exc:
        raise TypeError(f"{qs.model.__name__} is not merchant-owned (no merchant field)") from exc
    return qs.filter(merchant=merchant)


def resolve_membership(*, user: Any, merchant_slug: str) -> Membership:
    """The user's membership at the merchant named by ``merchant_slug``, or Http404.

    Platform admins are not members and get 404 here too: they work in the admin site.
    """
    if not user.is_authenticated:
        raise Http404("No such merchant")
    membership = (
        Membership.objects.select_related("merchant")
        .filter(
            user=user,
            merchant__slug=merchant_slug,
            merchant__status=MerchantStatus.ACTIVE,
        )
        .first()
    )
    if membership is None:
        raise Http404("No such merchant")
    return membership


class MerchantViewMixin(LoginRequiredMixin):
    """For dashboard views under ``/m/<merchant_slug>/``.

    Sets ``self.merchant``, ``self.membership`` (and the same on ``request``) and
    ``self.user`` (the signed-in member, typed as our ``User``), enforces
    ``required_role``, and scopes ``get_queryset()`` to the merchant.
    """

    required_role: str = Role.CLERK
    merchant: Merchant
    membership: Membership
    user: User
    model: type[models.Model] | None = None
    request: HttpRequest

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = resolve_membership(user=request.user, merchant_slug=kwargs["merchant_slug"])
        if not membership.has_role(self.required_role):
            raise PermissionDenied(
                f"This needs the {Role(self.required_role).label.lower()} role or higher."
            )
        self.membership = membership
        self.merchant = membership.merchant
        self.user = signed_in_user(request)
        request.merchant = membership.merchant  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        return super().dispatch(request, *args, **kwargs)

    def get_queryset(self) -> models.QuerySet[Any]:
        if self.model is None:
            raise NotImplementedError("Set model or override get_queryset().")
        return scoped(self.model, self.merchant)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["merchant"] = self.merchant
        context["membership"] = self.membership
        return context


# HEAD is GET without the body, so it needs what GET needs. OPTIONS describes the
# endpoint: it needs what GET needs, or, on an endpoint without GET, what its methods need.
_DESCRIBING_METHODS = ("HEAD", "OPTIONS")

ScopeRequirement = tuple[str, ...] | Mapping[str, tuple[str, ...]]


def scopes_required(view: APIView, method: str) -> tuple[str, ...] | None:
    """The scopes an API key needs to call ``method`` on ``view``, or None when the view
    does not serve that method to API keys.

    ``view.required_scopes`` is either one tuple for every method the view serves, or a
    mapping from method to tuple. A view that declares nothing, and a method it serves
    but does not list, are refused rather than open to any key.
    """
    declared: ScopeRequirement | str | None = getattr(view, "required_scopes", None)
    if declared is None:
        return None
    served = [m for m in view.allowed_methods if m not in _DESCRIBING_METHODS]
    if isinstance(declared, str):
        declared = (declared,)
    if isinstance(declared, Mapping):
        listed = {m.upper(): tuple(scopes) for m, scopes in declared.items()}
        table = {m: listed[m] for m in served if m in listed}
    else:
        table = dict.fromkeys(served, tuple(declared))
    method = method.upper()
    if method in _DESCRIBING_METHODS:
        if "GET" in table:
            return table["GET"]
        if method == "HEAD" or not table:
            return None
        return tuple(dict.fromkeys(scope for scopes in table.values() for scope in scopes))
    return table.get(method)


class HasMerchantScope(permissions.BasePermission):
    """The request carries a usable API key of an active merchant, and the key holds every
    scope the view requires for the request's method (see ``scopes_required``). A method
    the view does not serve is refused with 405 before anything runs."""

    message = "A valid API key is required."

    def has_permission(self, request: Request, view: APIView) -> bool:
        from merchants.api.authentication import ApiClient

        client: object = request.user
        if not isinstance(client, ApiClient):
            return False
        if getattr(view, "required_scopes", None) is None:
            self.message = "This endpoint is not open to API keys."
            return False
        method = request.method or ""
        required = scopes_required(view, method)
        if required is None:
            raise exceptions.MethodNotAllowed(method)
        missing = [scope for scope in required if not client.has_scope(scope)]
        if missing:
            self.message = f"This API key lacks the scope(s): {', '.join(missing)}."
            return False
        return True


class MerchantAPIMixin:
    """For API views: ``self.merchant`` from the key, querysets scoped to it."""

    queryset_model: type[models.Model] | None = None
    request: Any

    @property
    def merchant(self) -> Merchant:
        merchant: Merchant = self.request.user.merchant
        return merchant

    def get_queryset(self) -> models.QuerySet[Any]:
        if self.queryset_model is None:
            raise NotImplementedError("Set queryset_model or override get_queryset().")
        return scoped(self.queryset_model, self.merchant)

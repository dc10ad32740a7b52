"""Another merchant's things do not exist for you: 404, never 403, on every route."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from accounts.models import User
from merchants.models import Membership, Merchant, Role
from merchants.tenancy import HasMerchantScope, MerchantAPIMixin, MerchantViewMixin, scoped

pytestmark = pytest.mark.django_db


def _walk(
    patterns: list[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, object]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        else:
            yield route, pattern.callback


def _view_class(callback: object) -> type | None:
    return getattr(callback, "view_class", None) or getattr(callback, "cls", None)


MERCHANT_ROUTES = [
    (route, callback)
    for route, callback in _walk(get_resolver().url_patterns)
    if "<slug:merchant_slug>" in route
]
API_ROUTES = [
    (route, callback)
    for route, callback in _walk(get_resolver().url_patterns)
    if route.startswith("api/v1/") and not route.startswith("api/v1/schema")
]
PUBLIC_API_VIEWS: set[str] = set()


def test_there_are_merchant_and_api_routes_to_check() -> None:
    assert len(MERCHANT_ROUTES) >= 2
    assert len(API_ROUTES) >= 1


@pytest.mark.parametrize(
    ("route", "callback"), MERCHANT_ROUTES, ids=[r for r, _ in MERCHANT_ROUTES]
)
def test_every_merchant_route_uses_the_tenancy_mixin(route: str, callback: object) -> None:
    view_class = _view_class(callback)
    assert view_class is not None, f"{route} is a function view; use MerchantViewMixin"
    assert issubclass(view_class, MerchantViewMixin), f"{route} skips MerchantViewMixin"


@pytest.mark.parametrize(("route", "callback"), API_ROUTES, ids=[r for r, _ in API_ROUTES])
def test_every_api_route_is_scoped_to_the_key_merchant(route: str, callback: object) -> None:
    view_class = _view_class(callback)
    assert view_class is not None, route
    assert issubclass(view_class, APIView), route
    if view_class.__name__ in PUBLIC_API_VIEWS:
        return
    assert issubclass(view_class, MerchantAPIMixin), f"{route} skips MerchantAPIMixin"
    assert HasMerchantScope in view_class.permission_classes, f"{route} skips HasMerchantScope"


@pytest.mark.parametrize("path", ["/m/{slug}/", "/m/{slug}/team/"])
def test_another_merchants_dashboard_is_404(
    owner_client: Client, other_merchant: Merchant, path: str
) -> None:
    assert owner_client.get(path.format(slug=other_merchant.slug)).status_code == 404
    assert owner_client.get(path.format(slug="does-not-exist")).status_code == 404


def test_own_dashboard_is_served(owner_client: Client, merchant: Merchant) -> None:
    response = owner_client.get(f"/m/{merchant.slug}/")
    assert response.status_code == 200
    assert merchant.name in response.content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client: Client, merchant: Merchant) -> None:
    response = client.get(f"/m/{merchant.slug}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_platform_admins_are_not_members(admin_user: User, merchant: Merchant) -> None:
    client = Client()
    client.force_login(admin_user)
    assert client.get(f"/m/{merchant.slug}/").status_code == 404


def test_roles_below_the_view_requirement_are_refused(
    merchant: Merchant, member_factory: Callable[..., Membership]
) -> None:
    clerk = member_factory(merchant, Role.CLERK).user
    manager = member_factory(merchant, Role.MANAGER).user
    client = Client()
    client.force_login(clerk)
    assert client.get(f"/m/{merchant.slug}/team/").status_code == 403
    assert client.get(f"/m/{merchant.slug}/").status_code == 200
    client.force_login(manager)
    assert client.get(f"/m/{merchant.slug}/team/").status_code == 200


def test_suspended_merchants_disappear_for_their_staff(owner_client: Client, merchant: Merchant):
    merchant.status = "suspended"
    merchant.save()
    assert owner_client.get(f"/m/{merchant.slug}/").status_code == 404


def test_scoped_filters_by_merchant_and_refuses_unowned_models(
    merchant: Merchant, other_merchant: Merchant, member_factory: Callable[..., Membership]
) -> None:
    mine = member_factory(merchant)
    member_factory(other_merchant)
    assert list(scoped(Membership, merchant)) == [mine]
    assert list(scoped(Membership.objects.filter(role=Role.OWNER), merchant)) == [mine]
    with pytest.raises(TypeError, match="not merchant-owned"):
        scoped(User, merchant)


def test_after_login_routes_each_role(
    client: Client,
    merchant: Merchant,
    other_merchant: Merchant,
    admin_user: User,
    member_factory: Callable[..., Membership],
    user: User,
) -> None:
    client.force_login(admin_user)
    assert client.get("/start/")["Location"] == "/admin/"
    client.force_login(user)
    assert client.get("/start/")["Location"] == "/account/"
    one = member_factory(merchant).user
    client.force_login(one)
    assert client.get("/start/")["Location"] == f"/m/{merchant.slug}/"
    assert client.get("/m/")["Location"] == f"/m/{merchant.slug}/"
    Membership.objects.create(merchant=other_merchant, user=one, role=Role.CLERK)
    assert client.get("/start/")["Location"] == "/m/"
    choose = client.get("/m/")
    assert other_merchant.name in choose.content.decode()


def test_the_dashboard_shows_the_programme_in_money(owner_client: Client, merchant: Merchant):
    from giftcards import services
    from giftcards.tests.helpers import issue

    card = issue(merchant, 5000).card
    issue(merchant, 2550)
    services.giftcard_redeem(merchant=merchant, card_id=card.pk, amount=1000)
    page = owner_client.get(f"/m/{merchant.slug}/").content.decode()
    assert "€65.50" in page  # outstanding: 40.00 + 25.50
    assert "€10.00" in page  # redeemed today
    assert "€75.50" in page  # issued in 30 days
    assert "on 2 live cards" in page

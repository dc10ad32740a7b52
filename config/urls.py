"""Top-level URL routing."""

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from core.api_docs import ApiDocsView
from merchants.views import after_login

admin.site.site_header = f"{settings.PLATFORM_NAME} administration"
admin.site.site_title = f"{settings.PLATFORM_NAME} admin"
admin.site.index_title = "Platform administration"

urlpatterns: list[URLPattern | URLResolver] = [
    # First: every API request is resolved without trying the pages' patterns.
    path("api/v1/", include("config.api_urls")),
    path("", include("core.urls")),
    # Where signing in lands: each role's own start page.
    path("start/", after_login, name="after-login"),
    path("", include("storefront.seo_urls")),
    path("s/", include("storefront.urls")),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("account/", include("wallet.urls")),
    path("m/", include("merchants.urls")),
    path("invitations/", include("merchants.invitation_urls")),
    path("m/<slug:merchant_slug>/", include("giftcards.urls")),
    path("m/<slug:merchant_slug>/orders/", include("orders.dashboard_urls")),
    path("api/docs/", ApiDocsView.as_view(), name="api-docs"),
    path("hooks/", include("communications.urls")),
    path("", include("orders.urls")),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:  # pragma: no cover - local media serving only
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

handler400 = "core.views.bad_request"
handler403 = "core.views.permission_denied"
handler404 = "core.views.page_not_found"
handler500 = "core.views.server_error"

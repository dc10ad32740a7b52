"""REST API v1: every app's API routes and the OpenAPI schema."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny

urlpatterns = [
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[AllowAny]),
        name="api-schema",
    ),
    path("", include("merchants.api.urls")),
    path("", include("giftcards.api.urls")),
    path("", include("otp.api.urls")),
]

"""Dashboard routes. Everything merchant-scoped lives under ``<merchant_slug>/``."""

from django.urls import include, path

from merchants import views

app_name = "merchants"

scoped_patterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path("team/", views.TeamView.as_view(), name="team"),
]

urlpatterns = [
    path("", views.ChooseMerchantView.as_view(), name="choose"),
    path("<slug:merchant_slug>/", include(scoped_patterns)),
]

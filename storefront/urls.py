"""Public storefront routes, ``/s/<slug>/...``. No sign-in and no membership: each view
finds the merchant through ``views.get_merchant`` (active merchants only, 404 otherwise)
and builds every query from it. Staff routes live under ``/m/<merchant_slug>/`` with the
tenancy mixin; ``storefront.tests.test_tenancy`` walks these routes as that test walks
those."""

from django.urls import path

from storefront import views

app_name = "storefront"

urlpatterns = [
    path("<slug:slug>/", views.storefront_home, name="home"),
    path("<slug:slug>/brand.css", views.brand_css, name="brand-css"),
    path("<slug:slug>/balance/", views.balance_check, name="balance"),
    path("<slug:slug>/p/<str:public_id>/", views.product_detail, name="product"),
]

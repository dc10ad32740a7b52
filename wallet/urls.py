"""The wallet's pages, under ``/account/``."""

from django.urls import path

from wallet import views

app_name = "wallet"

urlpatterns = [
    path("cards/", views.my_cards, name="cards"),
    path("cards/claim/", views.claim_by_code, name="claim"),
    path("cards/claim-link/", views.claim_by_link, name="claim-link"),
    path("cards/<str:public_id>/", views.card_ledger, name="card"),
    path("orders/", views.my_orders, name="orders"),
]

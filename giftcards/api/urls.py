from django.urls import path

from giftcards.api import views

urlpatterns = [
    path("gift-cards/", views.GiftCardCollectionView.as_view(), name="api-gift-cards"),
    path("gift-cards/lookup/", views.GiftCardLookupView.as_view(), name="api-gift-cards-lookup"),
    path(
        "gift-cards/redeem/",
        views.GiftCardRedeemByCodeView.as_view(),
        name="api-gift-cards-redeem-by-code",
    ),
    path("gift-cards/<str:card_id>/", views.GiftCardDetailView.as_view(), name="api-gift-card"),
    path(
        "gift-cards/<str:card_id>/redeem/",
        views.GiftCardRedeemView.as_view(),
        name="api-gift-card-redeem",
    ),
    path(
        "gift-cards/<str:card_id>/reload/",
        views.GiftCardReloadView.as_view(),
        name="api-gift-card-reload",
    ),
    path(
        "gift-cards/<str:card_id>/void/",
        views.GiftCardVoidView.as_view(),
        name="api-gift-card-void",
    ),
    path(
        "gift-cards/<str:card_id>/transactions/",
        views.GiftCardTransactionsView.as_view(),
        name="api-gift-card-transactions",
    ),
    path(
        "transactions/<str:transaction_id>/refund/",
        views.TransactionRefundView.as_view(),
        name="api-transaction-refund",
    ),
]

"""Dashboard routes for gift cards, under ``/m/<merchant_slug>/``."""

from giftcards.views import bulk, card_actions, card_exports, cards, products, till

app_name = "giftcards"

urlpatterns = [
    *products.urlpatterns,
    *cards.urlpatterns,
    *card_exports.urlpatterns,
    *card_actions.urlpatterns,
    *till.urlpatterns,
    *bulk.urlpatterns,
]

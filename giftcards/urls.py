"""Dashboard routes for gift cards, under ``/m/<merchant_slug>/``."""

from giftcards.views import bulk, cards, products, till

app_name = "giftcards"

urlpatterns = [
    *products.urlpatterns,
    *cards.urlpatterns,
    *till.urlpatterns,
    *bulk.urlpatterns,
]

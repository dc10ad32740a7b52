from django.urls import path

from merchants.api import views

urlpatterns = [
    path("merchant/", views.CurrentMerchantView.as_view(), name="api-merchant"),
]

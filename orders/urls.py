from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("orders/<str:public_id>/", views.order_status, name="status"),
    path("pay/test/<str:public_id>/", views.pay_test, name="pay-test"),
    path("gift/t/<str:token>/", views.card, name="card"),
    path("hooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
]

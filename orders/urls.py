from django.urls import path

from orders import buyer_actions, views

app_name = "orders"

urlpatterns = [
    path("orders/<str:public_id>/", views.order_status, name="status"),
    path(
        "orders/<str:public_id>/resend/<int:delivery_id>/",
        buyer_actions.resend_delivery,
        name="status-resend",
    ),
    path("pay/test/<str:public_id>/", views.pay_test, name="pay-test"),
    path("gift/t/<str:token>/", views.card, name="card"),
    path("gift/t/<str:token>/card.pdf", views.card_pdf, name="card-pdf"),
    path("hooks/stripe/", views.stripe_webhook, name="stripe-webhook"),
]

from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """Owns orders, their payment, fulfilment into gift cards and the cards' delivery."""

    name = "orders"
    verbose_name = "Orders"

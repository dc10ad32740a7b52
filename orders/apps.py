from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """Owns orders, their payment, fulfilment into gift cards and the cards' delivery."""

    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        from giftcards.sale_checks import sale_check_register
        from orders import messages
        from orders.payments.units import product_sale_check

        messages.register()
        # A product whose amounts the payment provider cannot charge exactly is not sold.
        sale_check_register(name="orders.payment-units", check=product_sale_check)

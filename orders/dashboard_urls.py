"""The merchant's orders pages, under ``/m/<merchant_slug>/orders/``."""

from django.urls import URLPattern, path, re_path

from orders import dashboard

app_name = "orders-dashboard"

# Ids are matched exactly, so "export.csv" is never taken for an order id.
ORDER_ID = r"(?P<public_id>ord_[0-9a-z]{26})"

urlpatterns: list[URLPattern] = [
    path("", dashboard.OrderListView.as_view(), name="list"),
    path("export.csv", dashboard.OrderExportView.as_view(), name="export"),
    re_path(rf"^{ORDER_ID}/$", dashboard.OrderDetailView.as_view(), name="detail"),
    re_path(rf"^{ORDER_ID}/refund/$", dashboard.OrderRefundView.as_view(), name="refund"),
    re_path(
        rf"^{ORDER_ID}/deliveries/(?P<delivery_id>[0-9]+)/resend/$",
        dashboard.DeliveryResendView.as_view(),
        name="resend",
    ),
]

from django.urls import path

from otp.api import views

urlpatterns = [
    path("otp/request/", views.OtpRequestView.as_view(), name="api-otp-request"),
    path("otp/verify/", views.OtpVerifyView.as_view(), name="api-otp-verify"),
]

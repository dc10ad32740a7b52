from django.urls import include, path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.account_home, name="home"),
    path("", include("wallet.urls")),
]

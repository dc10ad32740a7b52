"""Invitation links live outside ``/m/<slug>/``: whoever opens one is not a member yet."""

from django.urls import path

from merchants import views

app_name = "invitations"

urlpatterns = [
    path("accept/<str:public_id>/", views.AcceptInvitationView.as_view(), name="accept"),
    path("<str:token>/", views.InvitationView.as_view(), name="open"),
]

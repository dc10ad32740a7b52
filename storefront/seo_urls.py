"""Addresses search engines expect at the root of the site."""

from django.contrib.sitemaps.views import sitemap
from django.urls import path

from storefront import robots
from storefront.sitemaps import SITEMAPS

urlpatterns = [
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", robots.robots_txt, name="robots-txt"),
]

"""``manage.py seed_demo``: idempotent demo data for the zero-setup run, and the logins.

Refuses to run against production settings unless ``--allow-production`` is given,
because it sets well-known passwords.
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import User
from core.site import site_url
from demo.data import seed_extra
from merchants.models import Membership, Merchant, Role

# A published demo password for local demo data; the command refuses production.
DEMO_PASSWORD = "Demo-giftcards-2026!"  # noqa: S105

MERCHANTS = [
    {"slug": "bluebird-coffee", "name": "Bluebird Coffee", "currency": "EUR", "colour": "#1f4f8a"},
    {"slug": "northwind-books", "name": "Northwind Books", "currency": "GBP", "colour": "#7a2e1d"},
]

PEOPLE = [
    # email, full name, is_staff, [(merchant slug, role)]
    ("admin@example.com", "Ada Admin", True, []),
    ("owner@bluebird.example", "Olive Owner", False, [("bluebird-coffee", Role.OWNER)]),
    ("manager@bluebird.example", "Max Manager", False, [("bluebird-coffee", Role.MANAGER)]),
    ("clerk@bluebird.example", "Cleo Clerk", False, [("bluebird-coffee", Role.CLERK)]),
    ("owner@northwind.example", "Nina North", False, [("northwind-books", Role.OWNER)]),
    ("customer@example.com", "Cas Customer", False, []),
]


class Command(BaseCommand):
    help = "Create (or refresh) demo merchants, staff, a customer and an admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--allow-production", action="store_true")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_DATA_ALLOWED and not options["allow_production"]:
            raise CommandError(
                "seed_demo sets well-known passwords; run it with DEBUG on, or pass "
                "--allow-production if you really mean it."
            )
        merchants: dict[str, Merchant] = {}
        for spec in MERCHANTS:
            merchant, _ = Merchant.objects.update_or_create(
                slug=spec["slug"],
                defaults={
                    "name": spec["name"],
                    "currency": spec["currency"],
                    "brand_colour": spec["colour"],
                },
            )
            merchants[spec["slug"]] = merchant

        for email, full_name, is_staff, roles in PEOPLE:
            user = User.objects.filter(email=email).first() or User(email=email)
            user.full_name = full_name
            user.is_staff = is_staff
            user.is_superuser = is_staff
            user.is_active = True
            user.set_password(DEMO_PASSWORD)
            user.save()
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            for slug, role in roles:
                Membership.objects.update_or_create(
                    merchant=merchants[slug], user=user, defaults={"role": role}
                )

        extra_lines = seed_extra(merchants=merchants)
        self._print_logins(extra_lines)

    def _print_logins(self, extra_lines: list[str]) -> None:
        base = site_url()
        out = self.stdout
        out.write(self.style.SUCCESS("Demo data ready."))
        out.write(f"  Password for every demo login: {DEMO_PASSWORD}")
        out.write(f"  Platform admin: admin@example.com      -> {base}/admin/")
        out.write(f"  Merchant owner: owner@bluebird.example -> {base}/m/bluebird-coffee/")
        out.write(f"  Merchant clerk: clerk@bluebird.example -> {base}/m/bluebird-coffee/")
        out.write(f"  Customer:       customer@example.com   -> {base}/account/")
        out.write(f"  Sign in at {base}/accounts/login/")
        for line in extra_lines:
            out.write(f"  {line}")

"""Dashboard product pages: the catalogue, its forms, image uploads, roles and tenancy."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image, PngImagePlugin

from giftcards import product_services
from giftcards.models import Product
from merchants.models import Membership, Merchant, Role

pytestmark = pytest.mark.django_db


# --- helpers ------------------------------------------------------------------------------


def url(name: str, merchant: Merchant, *args: str) -> str:
    return reverse(f"giftcards:{name}", args=[merchant.slug, *args])


def make_product(merchant: Merchant, **overrides: Any) -> Product:
    values: dict[str, Any] = {
        "name": "Classic card",
        "currency": merchant.currency,
        "denominations": [1000, 2500],
    }
    values.update(overrides)
    return product_services.product_create(merchant=merchant, **values)


def form_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Summer card",
        "description": "Sunny",
        "currency": "EUR",
        "amount_type": "fixed",
        "denominations": "10, 25, 50",
        "min_amount": "",
        "max_amount": "",
        "validity_days": "",
        "reloadable": "on",
        "is_active": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def png_bytes(size: tuple[int, int] = (32, 24), *, text: str | None = None) -> bytes:
    image = Image.new("RGB", size, (200, 40, 40))
    info = None
    if text is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", text)
    out = BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (40, 30), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010E] = "secret description"  # ImageDescription
    exif[0x0131] = "EvilCam 1.0"  # Software
    out = BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture
def manager_client(merchant: Merchant, member_factory: Callable[..., Membership]) -> Client:
    client = Client()
    client.force_login(member_factory(merchant, Role.MANAGER).user)
    return client


@pytest.fixture
def clerk_client(clerk: Any) -> Client:
    client = Client()
    client.force_login(clerk)
    return client


# --- list -----------------------------------------------------------------------------------


def test_the_product_list_shows_the_merchants_products_with_their_amounts(
    manager_client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    # given a fixed-amount and a range product here, and one at another merchant
    make_product(merchant, name="Classic card", denominations=[1000, 2500])
    make_product(merchant, name="Any amount", denominations=[], min_amount=500, max_amount=20000)
    make_product(other_merchant, name="Somebody else's card")
    # when a manager opens the list
    response = manager_client.get(url("products", merchant))
    # then both products appear with amounts in money, and nothing of the other merchant
    assert response.status_code == 200
    page = response.content.decode()
    assert "Classic card" in page
    assert "€10.00, €25.00" in page
    assert "€5.00 to €200.00" in page
    assert "Somebody else" not in page
    assert 'href="/static/css/cards.css"' in page


def test_an_empty_catalogue_invites_the_first_product(
    manager_client: Client, merchant: Merchant
) -> None:
    response = manager_client.get(url("products", merchant))
    assert response.status_code == 200
    assert "Create your first product" in response.content.decode()


# --- create ---------------------------------------------------------------------------------


def test_the_new_product_form_defaults_to_the_merchants_currency(
    owner_client: Client, merchant: Merchant
) -> None:
    merchant.currency = "GBP"
    merchant.save()
    response = owner_client.get(url("product-create", merchant))
    assert response.status_code == 200
    assert '<option value="GBP" selected>' in response.content.decode()


def test_creating_a_fixed_amount_product_stores_minor_units(
    manager_client: Client, merchant: Merchant
) -> None:
    # when a manager submits amounts in major units
    response = manager_client.post(url("product-create", merchant), form_data())
    # then the product exists with minor-unit denominations and the list says so
    assert response.status_code == 302
    assert response["Location"] == url("products", merchant)
    product = Product.objects.get(merchant=merchant)
    assert product.name == "Summer card"
    assert product.denominations == [1000, 2500, 5000]
    assert (product.min_amount, product.max_amount) == (None, None)
    assert product.reloadable is True
    assert product.is_active is True
    assert product.currency == "EUR"
    followed = manager_client.get(response["Location"])
    assert "Product “Summer card” created." in followed.content.decode()


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("10, 25, 50", [1000, 2500, 5000]),
        ("10 25 50", [1000, 2500, 5000]),
        ("12,50; 25", [1250, 2500]),  # semicolons: the comma may mark decimals
        ("1.250,00; 2 500,00", [125000, 250000]),
        ("12.50, €30", [1250, 3000]),
    ],
)
def test_fixed_amounts_are_listed_as_people_write_them(
    manager_client: Client, merchant: Merchant, typed: str, stored: list[int]
) -> None:
    response = manager_client.post(url("product-create", merchant), form_data(denominations=typed))
    assert response.status_code == 302
    assert Product.objects.get(merchant=merchant).denominations == stored


def test_creating_a_range_product(manager_client: Client, merchant: Merchant) -> None:
    data = form_data(
        amount_type="range",
        denominations="",
        min_amount="5",
        max_amount="1,000.50",
        validity_days="730",
        reloadable=None,
    )
    response = manager_client.post(url("product-create", merchant), data)
    assert response.status_code == 302
    product = Product.objects.get(merchant=merchant)
    assert product.denominations == []
    assert (product.min_amount, product.max_amount) == (500, 100050)
    assert product.validity_days == 730
    assert product.reloadable is False


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"denominations": "10, 25, 10"}, "denominations", "€10.00 is listed more than once."),
        ({"denominations": "10, 0"}, "denominations", "The amount must be more than 0."),
        ({"denominations": "-5"}, "denominations", "The amount must be more than 0."),
        ({"denominations": "10, abc"}, "denominations", "Type the amount as a number"),
        ({"denominations": "10.001"}, "denominations", "at most 2 decimal places"),
        ({"denominations": ""}, "denominations", "Enter at least one amount"),
        (
            {"amount_type": "range", "min_amount": "50", "max_amount": "10"},
            "max_amount",
            "must not be below the smallest",
        ),
        (
            {"amount_type": "range", "min_amount": "0", "max_amount": "10"},
            "min_amount",
            "more than 0",
        ),
        (
            {"amount_type": "range", "min_amount": "5", "max_amount": ""},
            "max_amount",
            "Enter an amount",
        ),
        ({"validity_days": "30"}, "validity_days", "at least 365 days"),
        ({"name": ""}, "name", "This field is required."),
        ({"currency": "XXX"}, "currency", "Select a valid choice."),
    ],
)
def test_invalid_product_input_is_refused_with_a_clear_error(
    manager_client: Client, merchant: Merchant, overrides: dict[str, str], field: str, message: str
) -> None:
    # when a manager submits a product with a mistake
    response = manager_client.post(url("product-create", merchant), form_data(**overrides))
    # then the form comes back with the error on the right field and nothing is saved
    assert response.status_code == 422
    form = response.context["form"]
    assert any(message in error for error in form.errors[field]), form.errors
    assert message.split("“")[0] in response.content.decode().replace("&#x27;", "'")
    assert not Product.objects.exists()


# --- images ---------------------------------------------------------------------------------


def test_a_real_png_is_accepted_reencoded_and_stripped_of_metadata(
    manager_client: Client, merchant: Merchant
) -> None:
    # given a small PNG that carries a text chunk, under a name of its own
    upload = SimpleUploadedFile(
        "My Holiday Photo.png", png_bytes(text="GPS 51.5,-0.1"), content_type="image/png"
    )
    # when it is uploaded with a new product
    response = manager_client.post(url("product-create", merchant), form_data(image=upload))
    # then the product's image is a fresh PNG with a random name and no text chunk
    assert response.status_code == 302
    product = Product.objects.get(merchant=merchant)
    assert product.image.name.startswith("products/")
    assert product.image.name.endswith(".png")
    assert "Holiday" not in product.image.name
    with product.image.open("rb") as stored, Image.open(stored) as image:
        assert image.format == "PNG"
        assert image.size == (32, 24)
        assert "Comment" not in image.info
        assert not image.text  # type: ignore[attr-defined]


def test_a_jpeg_loses_its_exif_when_reencoded(manager_client: Client, merchant: Merchant) -> None:
    upload = SimpleUploadedFile("photo.jpg", jpeg_with_exif(), content_type="image/jpeg")
    response = manager_client.post(url("product-create", merchant), form_data(image=upload))
    assert response.status_code == 302
    product = Product.objects.get(merchant=merchant)
    with product.image.open("rb") as stored:
        data = stored.read()
    assert b"EvilCam" not in data
    assert b"secret description" not in data
    with Image.open(BytesIO(data)) as image:
        assert image.format == "JPEG"
        assert not image.getexif()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("card.png", b"this is plain text, not a picture", "is not one"),
        ("card.png", b"GIF89a" + b"\x00" * 40, "is not one"),
        ("huge.png", png_bytes((4001, 1)), "the most is 4000x4000"),
    ],
)
def test_files_that_are_not_acceptable_images_are_refused(
    manager_client: Client, merchant: Merchant, name: str, content: bytes, message: str
) -> None:
    upload = SimpleUploadedFile(name, content, content_type="image/png")
    response = manager_client.post(url("product-create", merchant), form_data(image=upload))
    assert response.status_code == 422
    assert any(message in e for e in response.context["form"].errors["image"])
    assert not Product.objects.exists()


def test_an_image_over_5_mb_is_refused(manager_client: Client, merchant: Merchant) -> None:
    upload = SimpleUploadedFile("big.png", png_bytes() + b"\x00" * (5 * 1024 * 1024))
    response = manager_client.post(url("product-create", merchant), form_data(image=upload))
    assert response.status_code == 422
    assert "5 MB or smaller" in response.context["form"].errors["image"][0]
    assert not Product.objects.exists()


# --- edit -----------------------------------------------------------------------------------


def test_the_edit_form_shows_amounts_in_major_units(
    manager_client: Client, merchant: Merchant
) -> None:
    product = make_product(merchant, denominations=[1000, 2550])
    response = manager_client.get(url("product-edit", merchant, product.public_id))
    assert response.status_code == 200
    assert 'value="10.00, 25.50"' in response.content.decode()


def test_editing_a_product_replaces_its_fields(manager_client: Client, merchant: Merchant) -> None:
    product = make_product(merchant)
    data = form_data(
        name="Renamed",
        amount_type="range",
        denominations="",
        min_amount="1",
        max_amount="99.99",
        is_active=None,
    )
    response = manager_client.post(url("product-edit", merchant, product.public_id), data)
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.name == "Renamed"
    assert product.denominations == []
    assert (product.min_amount, product.max_amount) == (100, 9999)
    assert product.is_active is False


def test_editing_with_an_error_changes_nothing(manager_client: Client, merchant: Merchant) -> None:
    product = make_product(merchant, name="Keep me")
    data = form_data(name="Changed", denominations="5, 5")
    response = manager_client.post(url("product-edit", merchant, product.public_id), data)
    assert response.status_code == 422
    product.refresh_from_db()
    assert product.name == "Keep me"
    assert product.denominations == [1000, 2500]


def test_an_image_can_be_replaced_and_cleared(
    manager_client: Client, merchant: Merchant, django_capture_on_commit_callbacks: Any
) -> None:
    # given a product with an image
    first = SimpleUploadedFile("a.png", png_bytes())
    manager_client.post(url("product-create", merchant), form_data(image=first))
    product = Product.objects.get(merchant=merchant)
    storage = product.image.storage
    old_name = product.image.name
    edit = url("product-edit", merchant, product.public_id)
    # when it is replaced, then the new file is stored and the old one removed on commit
    second = SimpleUploadedFile("b.png", png_bytes((10, 10)))
    with django_capture_on_commit_callbacks(execute=True):
        assert manager_client.post(edit, form_data(image=second)).status_code == 302
    product.refresh_from_db()
    assert product.image.name != old_name
    assert not storage.exists(old_name)
    assert storage.exists(product.image.name)
    # when it is cleared, then the product has no image and the file is gone
    replaced = product.image.name
    with django_capture_on_commit_callbacks(execute=True):
        assert manager_client.post(edit, form_data(**{"image-clear": "on"})).status_code == 302
    product.refresh_from_db()
    assert not product.image
    assert not storage.exists(replaced)


def test_a_transparent_palette_png_keeps_its_transparency(
    manager_client: Client, merchant: Merchant
) -> None:
    image = Image.new("P", (8, 8), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    out = BytesIO()
    image.save(out, format="PNG", transparency=0)
    upload = SimpleUploadedFile("logo.png", out.getvalue())
    assert (
        manager_client.post(url("product-create", merchant), form_data(image=upload)).status_code
        == 302
    )
    product = Product.objects.get(merchant=merchant)
    with product.image.open("rb") as stored, Image.open(stored) as saved:
        assert saved.convert("RGBA").getpixel((0, 0))[3] == 0


# --- activate / deactivate ----------------------------------------------------------------------


def test_a_product_can_be_deactivated_and_reactivated(
    manager_client: Client, merchant: Merchant
) -> None:
    product = make_product(merchant)
    toggle = url("product-toggle", merchant, product.public_id)
    response = manager_client.post(toggle, {"active": "0"})
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.is_active is False
    # a repeated submit keeps what was asked instead of flipping it back
    manager_client.post(toggle, {"active": "0"})
    product.refresh_from_db()
    assert product.is_active is False
    manager_client.post(toggle, {"active": "1"})
    product.refresh_from_db()
    assert product.is_active is True


def test_toggling_is_post_only(manager_client: Client, merchant: Merchant) -> None:
    product = make_product(merchant)
    response = manager_client.get(url("product-toggle", merchant, product.public_id))
    assert response.status_code == 405
    product.refresh_from_db()
    assert product.is_active is True


# --- roles and tenancy -------------------------------------------------------------------------


def test_clerks_are_refused_every_product_page(clerk_client: Client, merchant: Merchant) -> None:
    product = make_product(merchant)
    assert clerk_client.get(url("products", merchant)).status_code == 403
    assert clerk_client.get(url("product-create", merchant)).status_code == 403
    assert clerk_client.post(url("product-create", merchant), form_data()).status_code == 403
    assert clerk_client.get(url("product-edit", merchant, product.public_id)).status_code == 403
    toggle = url("product-toggle", merchant, product.public_id)
    assert clerk_client.post(toggle, {"active": "0"}).status_code == 403
    product.refresh_from_db()
    assert product.is_active is True
    assert Product.objects.count() == 1


def test_owners_can_manage_products(owner_client: Client, merchant: Merchant) -> None:
    assert owner_client.get(url("products", merchant)).status_code == 200
    assert owner_client.post(url("product-create", merchant), form_data()).status_code == 302


def test_another_merchants_product_does_not_exist_for_you(
    manager_client: Client, merchant: Merchant, other_merchant: Merchant
) -> None:
    theirs = make_product(other_merchant, name="Theirs")
    edit_mine = url("product-edit", merchant, theirs.public_id)
    assert manager_client.get(edit_mine).status_code == 404
    assert manager_client.post(edit_mine, form_data(name="Hijacked")).status_code == 404
    toggle = url("product-toggle", merchant, theirs.public_id)
    assert manager_client.post(toggle, {"active": "0"}).status_code == 404
    theirs.refresh_from_db()
    assert (theirs.name, theirs.is_active) == ("Theirs", True)


@pytest.mark.parametrize("name", ["products", "product-create"])
def test_another_merchants_product_pages_are_404(
    manager_client: Client, other_merchant: Merchant, name: str
) -> None:
    assert manager_client.get(url(name, other_merchant)).status_code == 404


def test_another_merchants_product_edit_and_toggle_routes_are_404(
    manager_client: Client, other_merchant: Merchant
) -> None:
    theirs = make_product(other_merchant)
    assert (
        manager_client.get(url("product-edit", other_merchant, theirs.public_id)).status_code == 404
    )
    toggle = url("product-toggle", other_merchant, theirs.public_id)
    assert manager_client.post(toggle, {"active": "0"}).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client: Client, merchant: Merchant) -> None:
    response = client.get(url("products", merchant))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


# --- service rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"denominations": [1000, 1000]},
        {"denominations": [0]},
        {"denominations": [], "min_amount": 500, "max_amount": 100},
        {"denominations": [1000], "min_amount": 500},
        {"currency": "XYZ"},
        {"name": "  "},
        {"denominations": [100_000_000_01]},
        {"validity_days": 0},
        {"validity_days": 30},  # below the platform's floor, whoever saves it
    ],
)
def test_product_services_refuse_bad_products(
    merchant: Merchant, overrides: dict[str, Any]
) -> None:
    with pytest.raises(product_services.InvalidProduct):
        make_product(merchant, **overrides)
    assert not Product.objects.exists()

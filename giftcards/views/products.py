"""Dashboard pages: the merchant's product catalogue (GC-6), for managers and owners."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, re_path, reverse
from django.views import View
from django.views.generic import TemplateView

from core.errors import ApplicationError
from core.money import format_money
from giftcards import product_services, selectors
from giftcards.forms import ProductForm
from giftcards.models import Product
from merchants.models import Role
from merchants.tenancy import MerchantViewMixin


def pricing_label(product: Product) -> str:
    """How a person reads the product's amounts: "€10.00, €25.00" or "€5.00 to €200.00"."""
    if product.denominations:
        return ", ".join(format_money(d, product.currency) for d in product.denominations)
    if product.min_amount is None and product.max_amount is None:
        return f"Any amount in {product.currency}"
    low = format_money(product.min_amount or 0, product.currency)
    high = format_money(product.max_amount, product.currency) if product.max_amount else "any"
    return f"{low} to {high}"


class ProductViewMixin(MerchantViewMixin):
    required_role = Role.MANAGER

    def get_product(self, public_id: str) -> Product:
        product = selectors.product_get(merchant=self.merchant, public_id=public_id)
        if product is None:
            raise Http404("No such product")
        return product

    def products_url(self) -> str:
        return reverse("giftcards:products", args=[self.merchant.slug])


class ProductListView(ProductViewMixin, TemplateView):
    template_name = "giftcards/products/list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        products = list(selectors.product_list(merchant=self.merchant))
        context["rows"] = [{"product": p, "pricing": pricing_label(p)} for p in products]
        return context


class ProductFormView(ProductViewMixin, TemplateView):
    """Shared by create and edit: the same form, page and error handling."""

    template_name = "giftcards/products/form.html"

    def render_form(self, form: ProductForm, *, status: int = 200, **extra: Any) -> HttpResponse:
        context = self.get_context_data(form=form, **extra)
        return self.render_to_response(context, status=status)

    def refused(self, form: ProductForm, error: ApplicationError, **extra: Any) -> HttpResponse:
        """The service's refusal on the field it names (above the form otherwise)."""
        field = getattr(error, "field", None)
        form.add_error(field if field in form.fields else None, error.detail)
        return self.render_form(form, status=422, **extra)


class ProductCreateView(ProductFormView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ProductForm(initial={"currency": self.merchant.currency, "is_active": True})
        return self.render_form(form)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        form = ProductForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render_form(form, status=422)
        try:
            product = product_services.product_create(
                merchant=self.merchant, **form.service_kwargs()
            )
        except ApplicationError as exc:
            return self.refused(form, exc)
        messages.success(request, f"Product “{product.name}” created.")
        return HttpResponseRedirect(self.products_url())


class ProductEditView(ProductFormView):
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        product = self.get_product(kwargs["public_id"])
        return self.render_form(ProductForm(product=product), product=product)

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        product = self.get_product(kwargs["public_id"])
        form = ProductForm(request.POST, request.FILES, product=product)
        if not form.is_valid():
            return self.render_form(form, status=422, product=product)
        values = form.service_kwargs()
        try:
            product_services.product_update(
                product=product,
                remove_image=form.cleaned_data.get("image") is False,
                **values,
            )
        except ApplicationError as exc:
            return self.refused(form, exc, product=product)
        messages.success(request, f"Product “{product.name}” saved.")
        return HttpResponseRedirect(self.products_url())


class ProductToggleView(ProductViewMixin, View):
    """Deactivate or reactivate (POST only): the form says which, so a repeated submit
    leaves the product as the person asked rather than flipping it back."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        product = self.get_product(kwargs["public_id"])
        wanted = request.POST.get("active")
        if wanted not in ("0", "1"):
            messages.error(request, "Choose whether the product should be active.")
            return HttpResponseRedirect(self.products_url())
        try:
            product_services.product_set_active(product=product, active=wanted == "1")
        except ApplicationError as exc:
            messages.error(request, f"Product “{product.name}” was not put on sale: {exc.detail}")
            return HttpResponseRedirect(self.products_url())
        state = "reactivated" if product.is_active else "deactivated"
        messages.success(request, f"Product “{product.name}” {state}.")
        return HttpResponseRedirect(self.products_url())


PRODUCT_ID = r"(?P<public_id>prod_[0-9a-z]{26})"

urlpatterns: list[URLPattern] = [
    path("products/", ProductListView.as_view(), name="products"),
    path("products/new/", ProductCreateView.as_view(), name="product-create"),
    re_path(rf"^products/{PRODUCT_ID}/edit/$", ProductEditView.as_view(), name="product-edit"),
    re_path(
        rf"^products/{PRODUCT_ID}/active/$", ProductToggleView.as_view(), name="product-toggle"
    ),
]

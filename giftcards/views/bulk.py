"""Bulk issuance pages (GC-9), managers and owners only: the form (count and amount, or a
CSV upload), a job's progress, and its report, the one file that carries the full codes.
The work is done by ``giftcards.bulk`` and its task; these views parse and present."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Any

import structlog
from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.views.decorators.cache import never_cache
from django.views.generic import TemplateView, View

from core.errors import ApplicationError
from core.forms import clean_amount
from core.money import MAX_INPUT_LENGTH
from giftcards import bulk, selectors
from giftcards.models import BulkIssueJob, Product
from giftcards.product_rules import min_validity_days, product_amount_refusal
from merchants.models import Merchant, Role
from merchants.tenancy import MerchantViewMixin, scoped

logger = structlog.get_logger(__name__)

ERRORS_SHOWN = 200
RECENT_JOBS = 10


# --- Forms ------------------------------------------------------------------------------


class JobOptionsForm(forms.Form):
    """What both kinds of job share: an optional product and expiry date."""

    product = forms.ModelChoiceField(
        queryset=Product.objects.none(),
        required=False,
        to_field_name="public_id",
        empty_label="No product: a plain card",
        label="Product (optional)",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expiry date (optional)",
        help_text="Cards stay valid until the end of this day. Empty: the product's validity "
        "period, or no expiry.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, merchant: Merchant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.merchant = merchant
        product_field: Any = self.fields["product"]
        product_field.queryset = selectors.product_list(merchant=merchant, active_only=True)

    @property
    def currency(self) -> str:
        product: Product | None = self.cleaned_data.get("product")
        return product.currency if product else self.merchant.currency

    def clean_expires_on(self) -> date | None:
        day: date | None = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        floor = min_validity_days()
        earliest = timezone.localdate() + timedelta(days=floor)
        if day < earliest:
            raise forms.ValidationError(
                f"Cards must stay valid for at least {floor} days: choose "
                f"{date_format(earliest, 'j F Y')} or later."
            )
        return day

    @property
    def expires_at(self) -> datetime | None:
        day: date | None = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


class CountForm(JobOptionsForm):
    count = forms.IntegerField(
        label="Number of cards",
        min_value=1,
        max_value=bulk.MAX_ROWS,
        help_text=f"From 1 to {bulk.MAX_ROWS:,}.",
    )
    amount = forms.CharField(
        label="Amount on each card",
        max_length=MAX_INPUT_LENGTH,
        help_text="In the currency's main unit, for example 25.00.",
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    field_order = ("count", "amount", "product", "expires_on")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if "amount" not in cleaned or self.has_error("product"):
            return cleaned
        try:
            amount = clean_amount(cleaned["amount"], self.currency)
        except forms.ValidationError as exc:
            self.add_error("amount", exc)
            return cleaned
        product: Product | None = cleaned.get("product")
        # The service decides in the end; this says it here, next to the field.
        refusal = product_amount_refusal(product, amount) if product is not None else None
        if refusal is not None:
            self.add_error("amount", refusal)
        cleaned["amount_minor"] = amount
        return cleaned


class CsvForm(JobOptionsForm):
    file = forms.FileField(
        label="CSV file",
        help_text=(
            f"UTF-8, at most 2 MB and {bulk.MAX_ROWS:,} rows, with a header row. Columns: "
            "amount (required, e.g. 25.00), recipient_email, recipient_phone, reference."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    field_order = ("file", "product", "expires_on")

    def clean_file(self) -> bytes:
        upload = self.cleaned_data["file"]
        if upload.size > bulk.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                "The file is larger than 2 MB. Split it into smaller files."
            )
        data: bytes = upload.read(bulk.MAX_UPLOAD_BYTES + 1)
        self.filename = str(upload.name or "")
        return data


# --- Views ------------------------------------------------------------------------------


@method_decorator(never_cache, name="dispatch")
class BulkMixin(MerchantViewMixin):
    required_role = Role.MANAGER

    def get_job(self, public_id: str) -> BulkIssueJob:
        job = (
            scoped(BulkIssueJob, self.merchant)
            .select_related("product", "created_by")
            .filter(public_id=public_id)
            .first()
        )
        if job is None:
            raise Http404("No such job")
        return job

    def job_url(self, job: BulkIssueJob) -> str:
        return reverse("giftcards:bulk-job", args=[self.merchant.slug, job.public_id])


class BulkIssueView(BulkMixin, TemplateView):
    template_name = "giftcards/bulk/issue.html"

    def forms(
        self, count_form: CountForm | None = None, csv_form: CsvForm | None = None
    ) -> dict[str, Any]:
        return {
            "count_form": count_form or CountForm(prefix="count", merchant=self.merchant),
            "csv_form": csv_form or CsvForm(prefix="csv", merchant=self.merchant),
            "jobs": scoped(BulkIssueJob, self.merchant).order_by("-created_at")[:RECENT_JOBS],
            "max_rows": bulk.MAX_ROWS,
        }

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.render_to_response(self.get_context_data(**self.forms()))

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        mode = request.POST.get("mode")
        if mode == "count":
            count_form = CountForm(request.POST, prefix="count", merchant=self.merchant)
            if count_form.is_valid():
                try:
                    job = bulk.bulk_job_create_count(
                        merchant=self.merchant,
                        actor=self.user,
                        count=count_form.cleaned_data["count"],
                        amount=count_form.cleaned_data["amount_minor"],
                        product=count_form.cleaned_data["product"],
                        expires_at=count_form.expires_at,
                    )
                except ApplicationError as exc:
                    count_form.add_error(None, str(exc.detail))
                else:
                    return self._queued(job)
            context = self.forms(count_form=count_form)
        elif mode == "csv":
            csv_form = CsvForm(request.POST, request.FILES, prefix="csv", merchant=self.merchant)
            if csv_form.is_valid():
                try:
                    job = bulk.bulk_job_create_csv(
                        merchant=self.merchant,
                        actor=self.user,
                        data=csv_form.cleaned_data["file"],
                        filename=csv_form.filename,
                        product=csv_form.cleaned_data["product"],
                        expires_at=csv_form.expires_at,
                    )
                except bulk.BulkUploadInvalid as exc:
                    csv_form.add_error("file", str(exc.detail))
                except ApplicationError as exc:
                    csv_form.add_error(None, str(exc.detail))
                else:
                    return self._queued(job)
            context = self.forms(csv_form=csv_form)
        else:
            return HttpResponseRedirect(request.path)
        return self.render_to_response(self.get_context_data(**context), status=422)

    def _queued(self, job: BulkIssueJob) -> HttpResponse:
        messages.success(
            self.request, f"Bulk issue of {job.total:,} card{'s' if job.total != 1 else ''} queued."
        )
        return HttpResponseRedirect(self.job_url(job), status=303)


class BulkJobView(BulkMixin, TemplateView):
    """A job's progress. While it runs, htmx re-fetches this page every second and swaps
    in the progress block; without JavaScript, the Refresh link does the same."""

    template_name = "giftcards/bulk/job.html"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        job = self.get_job(kwargs["job_id"])
        context = self.get_context_data(
            job=job,
            amount=bulk.job_amount_display(job),
            errors=job.errors[:ERRORS_SHOWN],
            more_errors=max(0, len(job.errors) - ERRORS_SHOWN),
        )
        return self.render_to_response(context)


class BulkJobRetryView(BulkMixin, View):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        job = self.get_job(kwargs["job_id"])
        try:
            bulk.bulk_job_requeue(merchant=self.merchant, job_id=job.pk)
        except ApplicationError as exc:
            messages.error(request, str(exc.detail))
        else:
            messages.success(request, "Running the job again; cards already issued are kept.")
        return HttpResponseRedirect(self.job_url(job), status=303)


class BulkJobReportView(BulkMixin, View):
    """The report CSV, with the full code of every issued card: never cached."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        job = self.get_job(kwargs["job_id"])
        if not job.is_finished:
            messages.info(request, "The report is ready when the job has finished.")
            return HttpResponseRedirect(self.job_url(job), status=303)
        buffer = io.StringIO()
        buffer.write("\ufeff")  # so spreadsheet programs read it as UTF-8
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerows(bulk.bulk_job_report(job=job))
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{job.public_id}-cards.csv"'
        response["Cache-Control"] = "no-store, private"
        logger.info(
            "bulk_report_downloaded",
            job=job.public_id,
            merchant=self.merchant.public_id,
            user_id=request.user.pk,
            cards=job.succeeded,
        )
        return response


urlpatterns: list[URLPattern] = [
    path("bulk/", BulkIssueView.as_view(), name="bulk-issue"),
    path("bulk/<str:job_id>/", BulkJobView.as_view(), name="bulk-job"),
    path("bulk/<str:job_id>/retry/", BulkJobRetryView.as_view(), name="bulk-job-retry"),
    path("bulk/<str:job_id>/report.csv", BulkJobReportView.as_view(), name="bulk-job-report"),
]

"""Browsable API docs at ``/api/docs/``: Swagger UI served from our own static files.

The split view loads its start-up script from a URL rather than inline, so the strict
CSP holds; Swagger UI styles elements from JavaScript, which needs inline styles here.
"""

from __future__ import annotations

from typing import Any

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny


@method_decorator(csp_update({"style-src": [SELF, UNSAFE_INLINE]}), name="dispatch")
class ApiDocsView(SpectacularSwaggerSplitView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    url_name = "api-schema"

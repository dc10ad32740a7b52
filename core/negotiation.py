"""Content negotiation for the API, without parsing the header it does not need to.

Every API view answers in one media type (JSON), and nearly every client asks for it by
sending no ``Accept`` header, ``*/*`` or ``application/json``. DRF parses the header into
media types on every request to reach that answer; here those three cases take the view's
first renderer at once, exactly as DRF would choose, and everything else (another media
type, a list, parameters, a ``?format=`` override, a format suffix) goes through DRF's
own negotiation, 406 included.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JsonFirstNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> Any:
        renderers = list(renderers)
        if renderers and format_suffix is None:
            first = renderers[0]
            accept = request.META.get("HTTP_ACCEPT", "").strip()
            override = self.settings.URL_FORMAT_OVERRIDE
            if (not override or override not in request.GET) and (
                accept in ("", "*/*") or accept == first.media_type
            ):
                return first, first.media_type
        return super().select_renderer(request, renderers, format_suffix)

"""The API's JSON parser: DRF's, refusing documents nested deeper than any request needs.

Python's JSON decoder recurses once per level of nesting, so about a thousand ``[`` in a
row end in ``RecursionError`` (a 500), and a few hundred levels that do parse would make
every later walk over the data (validation, the idempotency fingerprint, log redaction)
recurse as deep. The depth is therefore measured on the text, without recursion, before
anything is decoded.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import accumulate
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

# No request body of the API comes near this; metadata objects are flat.
MAX_JSON_DEPTH = 32

_ESCAPE = re.compile(r"\\.", re.DOTALL)
_STRING = re.compile(r'"[^"]*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects in ``text`` nest more than ``limit`` deep.

    Linear in the length of the text and never recursive. Backslash escapes are removed
    first, so every remaining ``"`` opens or closes a string; then strings are removed,
    so every remaining bracket is structure. For any text, valid or not, the result is at
    least the depth the decoder would reach before it stops, so a ``False`` here means
    decoding cannot recurse deeper than ``limit``.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", _ESCAPE.sub("", text)))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with a nesting limit: deeper documents are a 400, not a 500."""

    max_depth = MAX_JSON_DEPTH

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        # DRF's own check: text encodings only (a bz2_codec body would expand unchecked).
        # Newer than the type stubs.
        encoding: str = parsers.get_encoding(parser_context or {})  # type: ignore[attr-defined]
        try:
            text = stream.read().decode(encoding)
            if json_depth_exceeds(text, self.max_depth):
                raise ParseError(f"JSON parse error - nested deeper than {self.max_depth} levels.")
            parse_constant = json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ParseError(f"JSON parse error - {exc}") from None

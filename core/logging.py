"""Structured JSON logging, and the redaction every log line passes through.

Secrets never reach a log line: passwords, tokens, API keys, one-time and gift card
codes are masked by key name and by shape, for structlog events and for plain
``logging`` records alike (Django, Celery and library loggers are routed through the
same processors).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

import orjson
import structlog

REDACTED = "[redacted]"

# Keys whose values are secret whatever they hold.
_SECRET_KEYS = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|authorization|cookie|csrf|sessionid|"
    r"^code$|card_code|otp_code|^key$|signature|card_number|^pan$|cvc|iban)",
    re.IGNORECASE,
)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Gift card codes: four groups of four, or sixteen symbols in a row.
    # Greedy, with one separator throughout, so a word before a spaced code is taken
    # along with it rather than leaving the code's last group behind.
    (re.compile(r"\b[0-9A-Z]{4}([- ])[0-9A-Z]{4}(?:\1[0-9A-Z]{4}){2,4}\b", re.I), REDACTED),
    (re.compile(r"\b[0-9A-HJKMNP-TV-Z]{16}\b", re.I), REDACTED),
    # Merchant API keys: a recognisable prefix, then the secret part.
    (re.compile(r"\bgk_(live|test)_[A-Za-z0-9]+_[A-Za-z0-9_-]+"), "gk_\\1_" + REDACTED),
    # Bearer credentials in anything that looks like a header dump.
    (re.compile(r"(Bearer\s+)[^\s'\"]+", re.I), "\\1" + REDACTED),
    # Email confirmation and password reset links carry their key in the path.
    (re.compile(r"(/confirm-email/)[^/\s?'\"]+"), "\\1" + REDACTED),
    (re.compile(r"(/password/reset/key/)[^/\s?'\"]+"), "\\1" + REDACTED),
    # Invitation links: the signed token is the invitation.
    (re.compile(r"(/invitations/)(?!accept/)[^/\s?'\"]+"), "\\1" + REDACTED),
    # Signed links (storefront delivery, claims) and secret query parameters.
    (re.compile(r"(/t/)[^/\s?'\"]{16,}"), "\\1" + REDACTED),
    (
        re.compile(r"([?&](?:t|token|key|code|signature|password)=)[^&\s'\"]+", re.I),
        "\\1" + REDACTED,
    ),
)


# One search finds whether any pattern could match (a superset: case-insensitive, and
# the code pattern first, so its back-reference keeps its group number); most values
# match none, and pay one search instead of one substitution per pattern.
_SUSPECT = re.compile("|".join(f"(?:{pattern.pattern})" for pattern, _ in _PATTERNS), re.I)


def redact_text(text: str) -> str:
    """Mask every secret-shaped part of ``text``."""
    if not _SUSPECT.search(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if isinstance(value, str):
        if key in _SAFE_KEYS:
            return value
        if key and _SECRET_KEYS.search(key):
            return REDACTED
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else is written as its text (a request's repr carries its path and query):
    # redact that text rather than trust the object.
    return _redact_value(key, str(value))


# Keys whose values are written as they are: ids, levels and figures the logging itself
# adds or that hold no secret by construction (some match the secret pattern by name).
_SAFE_KEYS = frozenset(
    {"request_id", "correlation_id", "status_code", "timestamp", "level", "logger", "ip"}
)


def redact_processor(
    logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secrets in every field of the event."""
    for key, value in event_dict.items():
        if key in _SAFE_KEYS or value is None or type(value) in _PLAIN:
            continue
        event_dict[key] = _redact_value(key, value)
    return event_dict


# Values that cannot carry a secret's text.
_PLAIN = frozenset({int, float, bool})


class RedactingFilter(logging.Filter):
    """stdlib filter for handlers that do not go through structlog's formatter."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_text(record.msg)
        if record.args:
            if isinstance(record.args, Mapping):
                record.args = {k: _redact_value(str(k), v) for k, v in record.args.items()}
            else:
                record.args = tuple(_redact_value("", a) for a in record.args)
        return True


class ClientErrorFilter(logging.Filter):
    """Drops Django's own line for a 4xx answer ("Forbidden (Permission denied): ...",
    with the traceback of the refusal). A refusal is expected: django-structlog already
    logs it as one ``request_finished`` line with its status, request id and user."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        return not (isinstance(status, int) and 400 <= status < 500)


_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.ExtraAdder(),
]


def _json_default(value: Any) -> str:
    return str(value)


def render_json(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> str:
    """The line itself: orjson, several times faster than the standard library's."""
    return orjson.dumps(event_dict, default=_json_default).decode()


def build_logging_config(*, level: str = "INFO", fmt: str = "json") -> dict[str, Any]:
    renderer: Any = structlog.dev.ConsoleRenderer(colors=False) if fmt == "console" else render_json
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "redact": {"()": "core.logging.RedactingFilter"},
            "client_errors": {"()": "core.logging.ClientErrorFilter"},
        },
        "formatters": {
            "structured": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    # Tracebacks become text first, so the redaction reaches them too.
                    structlog.processors.format_exc_info,
                    redact_processor,
                    renderer,
                ],
                "foreign_pre_chain": _SHARED_PROCESSORS,
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "filters": ["redact"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Replace Django's default handlers so each event is logged once, as JSON.
            "django": {"handlers": ["console"], "level": level, "propagate": False},
            "django.request": {
                "handlers": ["console"],
                "level": level,
                "propagate": False,
                "filters": ["client_errors"],
            },
            # A request for a host we do not serve is a 400 like any other refusal: its
            # access line says so, without Django's traceback at ERROR.
            "django.security.DisallowedHost": {
                "handlers": ["console"],
                "level": level,
                "propagate": False,
                "filters": ["client_errors"],
            },
            "django.server": {"handlers": ["console"], "level": "ERROR", "propagate": False},
            "django.db.backends": {"level": "INFO"},
            "axes": {"level": "WARNING"},
        },
    }


def configure_structlog(*, level: str = "INFO") -> None:
    # Nothing we write names the caller's file and line, so the standard library need
    # not walk the stack for them on every line (the logging HOWTO's "Optimization"
    # section). Thread and process ids stay: gunicorn's own lines print the process.
    logging._srcfile = None
    structlog.configure(
        processors=[
            *_SHARED_PROCESSORS[:4],
            structlog.processors.StackInfoRenderer(),
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Calls below the level return at once, before any processor runs: the request
        # log lines cost nothing when LOG_LEVEL is above INFO.
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        cache_logger_on_first_use=True,
    )

"""The zero-setup profile: embedded defaults, safe to run on a laptop with nothing set.

``DEBUG`` defaults to on here. Turning it off (``DEBUG=false``) applies the same
start-up guards as production, so a half-configured deployment cannot slip through.
"""

from .base import *  # noqa: F403
from .base import env
from .guards import DEVELOPMENT_CODE_KEY, DEVELOPMENT_SECRET_KEY, enforce_production_settings

DEBUG = env.bool("DEBUG", default=True)

if DEBUG:
    DEMO_DATA_ALLOWED = True
    WHITENOISE_USE_FINDERS = True
    WHITENOISE_AUTOREFRESH = True
    # Public values, refused by the production guards.
    SECRET_KEY = SECRET_KEY or DEVELOPMENT_SECRET_KEY
    GIFTCARD_CODE_KEY = GIFTCARD_CODE_KEY or DEVELOPMENT_CODE_KEY
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]"]
    SITE_URL_FROM_REQUEST = True
    if not REDIS_URL:
        # make run serves with a separate worker and beat: throttles and counters must be
        # one count for all three processes, so they live in files, not process memory.
        CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(LOCAL_STATE_DIR / "cache"),
            }
        }
    LOG_FORMAT = env.str("LOG_FORMAT", default="console")
    from core.logging import build_logging_config

    LOGGING = build_logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
else:
    enforce_production_settings(globals())

"""Production: behind a TLS-terminating proxy, on PostgreSQL and Redis.

Select it with ``DJANGO_SETTINGS_MODULE=config.settings.production``. It refuses to
start when a required variable is missing or unsafe (see ``guards.py``).
"""

from .base import *  # noqa: F403
from .base import env
from .guards import enforce_production_settings

DEBUG = env.bool("DEBUG", default=False)

# The proxy terminates TLS and tells us the original scheme.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancer probes speak plain HTTP to the app directly, and the API is refused
# over plain HTTP rather than redirected: SECURE_REDIRECT_EXEMPT in base.py.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"

STORAGES["staticfiles"] = {
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
}

enforce_production_settings(globals())

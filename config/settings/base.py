"""Settings shared by every environment, read from the environment in one place.

Every variable read here is listed in ``.env.example`` and the README. With nothing
set, the values below are the embedded defaults of the zero-setup run: SQLite, a
local-memory cache, eager Celery tasks and console email.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

# Django's generic classes (ModelAdmin[Model], ModelForm[Model], ...) subscriptable at run
# time, as the type checker reads them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(BASE_DIR / ".env"))

# --- Core -------------------------------------------------------------------
PLATFORM_NAME = env.str("PLATFORM_NAME", default="Giftwell")
SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
# Zero-setup profile only: links and absolute URLs made during a request use the address
# the request was served on (its host already checked against ALLOWED_HOSTS). core.site.
SITE_URL_FROM_REQUEST = False
# Where the zero-setup profile keeps what its processes share (queue, cache files).
LOCAL_STATE_DIR = Path(env.str("LOCAL_STATE_DIR", default=str(BASE_DIR / "var")))
# Proxies in front of the app that append to X-Forwarded-For; the client is the entry the
# outermost one appended (core.net.client_ip). 0: the header is ignored.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
# Keys the lookup digest and the encrypted copy of gift card codes; never logged.
GIFTCARD_CODE_KEY = env.str("GIFTCARD_CODE_KEY", default="")
# Gift cards: the platform's validity floor (GC-8) and code-guessing brakes (GC-5).
GIFTCARD_MIN_VALIDITY_DAYS = env.int("GIFTCARD_MIN_VALIDITY_DAYS", default=365)
GIFTCARD_LOOKUP_FAILURES_PER_CLIENT = env.int("GIFTCARD_LOOKUP_FAILURES_PER_CLIENT", default=10)
# Public pages (storefront, wallet): per visitor as above, per address (people share
# one: a cafe's Wi-Fi), and all anonymous guesses at one merchant together.
GIFTCARD_LOOKUP_FAILURES_PER_ADDRESS = env.int("GIFTCARD_LOOKUP_FAILURES_PER_ADDRESS", default=30)
GIFTCARD_LOOKUP_FAILURES_PER_MERCHANT = env.int(
    "GIFTCARD_LOOKUP_FAILURES_PER_MERCHANT", default=200
)
GIFTCARD_LOOKUP_WINDOW_SECONDS = env.int("GIFTCARD_LOOKUP_WINDOW_SECONDS", default=600)
# An invitation to join a merchant (its owner or team) can be accepted for this many days.
MERCHANT_INVITATION_DAYS = env.int("MERCHANT_INVITATION_DAYS", default=7)
# seed_demo sets published passwords; only profiles that allow it may run it.
DEMO_DATA_ALLOWED = False

TIME_ZONE = "UTC"
USE_TZ = True
LANGUAGE_CODE = "en"
USE_I18N = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sitemaps",
]
THIRD_PARTY_APPS = [
    "allauth",
    "allauth.account",
    "axes",
    "django_otp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "corsheaders",
    "django_htmx",
    "django_structlog",
    "csp",
    "anymail",
]
LOCAL_APPS = [
    "core",
    "accounts",
    "merchants",
    "giftcards",
    "communications",
    "otp",
    "payouts",
    "audit",
    "orders",
    "storefront",
    "wallet",
    "demo",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    # The request id and the one access line, for every request.
    "core.middleware.RequestLogMiddleware",
    # The REST API leaves here for its own chain, API_MIDDLEWARE below.
    "core.middleware.ApiChainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the refusals below, so a browser client can read them too.
    "corsheaders.middleware.CorsMiddleware",
    "core.middleware.RequestBodyLimitMiddleware",
    "core.middleware.ApiAddressMiddleware",
    "core.middleware.ServiceUnavailableMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "core.site.SiteUrlMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

# The REST API's chain (core.middleware.ApiChainMiddleware): a request under this prefix
# carries its Bearer key and no session, cookie or form, so it skips sessions, CSRF,
# signed-in users, second factors, messages, allauth, htmx, axes and the page headers
# (frames, CSP). The API docs page (/api/docs/) is a page and keeps the pages' chain.
API_CHAIN_PREFIX = "/api/v1/"
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "core.middleware.RequestBodyLimitMiddleware",
    "core.middleware.ApiAddressMiddleware",
    "core.middleware.ServiceUnavailableMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "core.site.SiteUrlMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.platform",
            ],
        },
    }
]

# --- Data -------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has one writer at a time. A transaction that starts as a reader and then
    # writes cannot wait for the lock (SQLite would deadlock) and fails at once with
    # "database is locked"; an IMMEDIATE one takes the write lock when it begins, and
    # every statement waits up to the timeout for it. Parallel redemptions queue rather
    # than fail.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# The redemption path's statements are prepared per connection (core.sql). Turn off
# behind a transaction-mode pooler that cannot carry prepared statements.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
if DB_PREPARED_STATEMENTS and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg prepares nothing on its own (the threshold is never reached); only the
    # statements core.sql asks for are prepared.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 2**31 - 1

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="gw"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Accounts and authentication -----------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses locked-out credentials before any real backend runs.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.CharacterClassValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "after-login"
LOGOUT_REDIRECT_URL = "core:home"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
# Never email an address nobody registered (a reset form is not a way to send spam).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{PLATFORM_NAME}] "
# accounts.adapter extended by the app that sends messages (accounts sit below it).
ACCOUNT_ADAPTER = "communications.account_emails.AccountEmailAdapter"
# Says that email is off to every address alike, so a reset reveals no accounts.
ACCOUNT_FORMS = {"reset_password": "accounts.forms.PasswordResetForm"}
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http"
# Per-user lockout belongs to django-axes; allauth keeps only its per-IP brake.
ACCOUNT_RATE_LIMITS = {"login_failed": "20/m/ip"}

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.lockout.username_from_credentials"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
# Axes counts by the same client address as everything else (core.net.client_ip).
AXES_CLIENT_IP_CALLABLE = "core.net.client_ip"

SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=60 * 60 * 24 * 14)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Email ------------------------------------------------------------------
# Django's mail goes through the communications gateway (switches, limits, log); the
# transport that really sends is COMMUNICATIONS_EMAIL_BACKEND, from EMAIL_URL/EMAIL_BACKEND.
EMAIL_BACKEND = "communications.mail.GatewayEmailBackend"
if env.str("EMAIL_URL", default=""):
    _email = env.email_url("EMAIL_URL")
    COMMUNICATIONS_EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
    EMAIL_PORT = _email.get("EMAIL_PORT", 25)
    EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
else:
    COMMUNICATIONS_EMAIL_BACKEND = env.str(
        "EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend"
    )
    EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=f"{PLATFORM_NAME} <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Communications (CM) ------------------------------------------------------------
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
# Twilio signs status callbacks with the auth token, or, when a Webhook Rule matches our
# URL, with a SharedKey (X-Twilio-Webhooks-Signature-Settings); its secret goes here.
TWILIO_WEBHOOK_SHARED_KEY_SECRET = env.str("TWILIO_WEBHOOK_SHARED_KEY_SECRET", default="")
WEBPUSH_VAPID_PUBLIC_KEY = env.str("WEBPUSH_VAPID_PUBLIC_KEY", default="")
WEBPUSH_VAPID_PRIVATE_KEY = env.str("WEBPUSH_VAPID_PRIVATE_KEY", default="")
WEBPUSH_VAPID_SUBJECT = env.str("WEBPUSH_VAPID_SUBJECT", default="mailto:ops@example.com")
# The push services a browser subscription may point at (".example.com": any subdomain).
# Anything else is refused when a browser subscribes, so a stored subscription can never
# make the server POST to an address of someone's choosing.
WEBPUSH_ENDPOINT_HOSTS: list[str] = env.list(
    "WEBPUSH_ENDPOINT_HOSTS",
    default=[
        "fcm.googleapis.com",  # Chrome, Edge on Android, Opera, Samsung Internet
        "updates.push.services.mozilla.com",  # Firefox
        "web.push.apple.com",  # Safari
        ".notify.windows.com",  # Edge on Windows
    ],
)
# Delivery webhooks of the email provider (django-anymail): /hooks/anymail/<esp>/tracking/
# for the one ESP named here (postmark, sendgrid, mailgun, brevo, sparkpost, resend, ...).
# The endpoint refuses every request until ANYMAIL_WEBHOOK_SECRET ("user:password", the
# basic-auth credentials put in the webhook URL at the provider) is set; comma-separate
# two during a rotation.
ANYMAIL_TRACKING_ESP = env.str("ANYMAIL_TRACKING_ESP", default="postmark")
ANYMAIL: dict[str, object] = {
    "WEBHOOK_SECRET": env.list("ANYMAIL_WEBHOOK_SECRET", default=[]),
}
if env.str("POSTMARK_SERVER_TOKEN", default=""):
    ANYMAIL["POSTMARK_SERVER_TOKEN"] = env.str("POSTMARK_SERVER_TOKEN")
COMMUNICATIONS_BACKENDS = {
    "email": "communications.backends.email.DjangoEmailBackend",
    "sms": env.str(
        "SMS_BACKEND",
        default=(
            "communications.backends.sms.TwilioSMSBackend"
            if TWILIO_ACCOUNT_SID
            else "communications.backends.sms.ConsoleSMSBackend"
        ),
    ),
    "push": env.str("PUSH_BACKEND", default="communications.backends.push.WebPushBackend"),
}
# Queue a message once the caller's transaction commits (tests send at once instead).
COMMUNICATIONS_DISPATCH_ON_COMMIT = True
COMMUNICATIONS_MESSAGE_ID_DOMAIN = env.str(
    "COMMUNICATIONS_MESSAGE_ID_DOMAIN", default="giftwell.local"
)
# Every queued message reaches a final state after a crash (seconds). A worker handing a
# message to its provider is stopped after COMMUNICATIONS_DELIVERY_TIME_LIMIT; a claim
# older than COMMUNICATIONS_CLAIM_TIMEOUT (which must be longer) belongs to a worker that
# died, and the sweep sends the message again; a message whose attempt is overdue by
# COMMUNICATIONS_REDISPATCH_AFTER lost its task and is queued again. With the sweep every
# minute, a message is back with a worker within 11 minutes of a crash (6 after a lost
# task); one still waiting after 15 (claim timeout + redispatch) is flagged as stuck.
COMMUNICATIONS_DELIVERY_TIME_LIMIT = env.int("COMMUNICATIONS_DELIVERY_TIME_LIMIT", default=5 * 60)
COMMUNICATIONS_CLAIM_TIMEOUT = env.int("COMMUNICATIONS_CLAIM_TIMEOUT", default=10 * 60)
COMMUNICATIONS_REDISPATCH_AFTER = env.int("COMMUNICATIONS_REDISPATCH_AFTER", default=5 * 60)

# --- Static and media -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    _media_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _media_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Request limits, security headers, CORS ----------------------------------------
# core.middleware.RequestBodyLimitMiddleware answers 413 above these, before reading:
# a body read into memory (every API request, any non-multipart form) is capped at
# DATA_UPLOAD_MAX_MEMORY_SIZE; only multipart uploads to pages (product images, bulk
# CSVs, each with its own smaller limit per file) may reach MAX_REQUEST_BODY_BYTES.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=10 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# The API is refused over plain HTTP rather than redirected (core.middleware).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^api/"]

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:", *env.list("CSP_IMG_EXTRA", default=[])],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF, *env.list("CSP_FORM_ACTION_EXTRA", default=[])],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOWED_ORIGINS: list[str] = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_ALLOW_ALL_ORIGINS = False
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = ["authorization", "content-type", "idempotency-key", "x-request-id"]
CORS_EXPOSE_HEADERS = ["x-request-id", "retry-after", "idempotent-replayed"]

# --- Celery -----------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
# Without a broker, tasks run in the process that queues them; with one, a worker runs them.
CELERY_TASK_ALWAYS_EAGER = env.bool(
    "CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL.startswith("memory://")
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    # One machine without Redis (``make run``): the queue is a folder that the web server,
    # the worker and beat share.
    _QUEUE_DIR = LOCAL_STATE_DIR / "queue"
    (_QUEUE_DIR / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_QUEUE_DIR),
        "data_folder_out": str(_QUEUE_DIR),
        "processed_folder": str(_QUEUE_DIR / "processed"),
        "control_folder": str(_QUEUE_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic jobs are declared here, in code; the database scheduler picks them up.
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "core.clear_expired_sessions",
        "schedule": timedelta(hours=24),
        "options": {"expires": 60 * 60},
    },
    # GC-8 / OP-1: breakage is booked as an ``expire`` ledger entry; the job is idempotent.
    "expire-gift-cards": {
        "task": "giftcards.expire_gift_cards",
        "schedule": crontab(hour=2, minute=0),
        "options": {"expires": 60 * 60},
    },
    # Stored API responses are replayed for 48 hours (merchants.idempotency.RETENTION).
    "purge-idempotency-records": {
        "task": "merchants.purge_idempotency_records",
        "schedule": crontab(hour=3, minute=0),
        "options": {"expires": 60 * 60},
    },
    # CM-2: messages held back by an hourly volume limit go out once an hour has room.
    "release-deferred-messages": {
        "task": "communications.release_deferred_messages",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # CM-2: no message lost to a crash: dead workers' claims released, lost tasks queued
    # again (communications.services.sweep_stalled_messages).
    "sweep-stalled-messages": {
        "task": "communications.sweep_stalled_messages",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 55},
    },
    # OP-1 token/OTP cleanup: pending one-time codes past their expiry are marked expired.
    "expire-one-time-codes": {
        "task": "otp.expire_pending_codes",
        "schedule": crontab(hour=3, minute=0),
        "options": {"expires": 60 * 60},
    },
}
DJANGO_STRUCTLOG_CELERY_ENABLED = True

# --- Payments and orders (SF-3..SF-5) ---------------------------------------------
# "test": the built-in test provider (no money moves; refused in production unless
# PAYMENT_TEST_PROVIDER_ALLOWED). "stripe": Stripe Checkout with the keys below.
PAYMENT_PROVIDER = env.str("PAYMENT_PROVIDER", default="test")
PAYMENT_TEST_PROVIDER_ALLOWED = env.bool("PAYMENT_TEST_PROVIDER_ALLOWED", default=False)
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
# Signs Stripe's webhook events (/hooks/stripe/); events are refused while it is unset.
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
if PAYMENT_PROVIDER == "stripe":
    # The checkout form's redirect goes to Stripe's payment page.
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append("https://checkout.stripe.com")
# A pending order nobody paid within this many hours is cancelled (its Stripe
# Checkout Session expired first), so it does not wait for payment forever.
ORDER_PENDING_TTL_HOURS = env.int("ORDER_PENDING_TTL_HOURS", default=24)
# A recipient's card link (/gift/t/<token>/) shows the card's code for this many days
# after it was sent (a card lives at least a year); a resend or a claim into a wallet
# revokes it earlier.
CARD_LINK_MAX_AGE_DAYS = env.int("CARD_LINK_MAX_AGE_DAYS", default=400)
# Scheduled gift card deliveries go out within this many seconds of their time.
CARD_DELIVERY_CHECK_SECONDS = env.int("CARD_DELIVERY_CHECK_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["send-due-card-deliveries"] = {
    "task": "orders.send_due_deliveries",
    "schedule": timedelta(seconds=CARD_DELIVERY_CHECK_SECONDS),
    "options": {"expires": max(1, CARD_DELIVERY_CHECK_SECONDS - 5)},
}
CELERY_BEAT_SCHEDULE["expire-abandoned-orders"] = {
    "task": "orders.expire_abandoned_orders",
    "schedule": timedelta(hours=1),
    "options": {"expires": 55 * 60},
}

# --- REST API -----------------------------------------------------------------
# How long a worker may answer with the API key and merchant row it read: the bound on
# how long a revoked key or a suspended merchant still works in the other workers (the
# worker that saved the change forgets at once). 0 reads the database every request.
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["merchants.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["merchants.tenancy.HasMerchantScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's negotiation, minus parsing the usual Accept headers (core.negotiation).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.negotiation.JsonFirstNegotiation",
    # DRF's JSON parser with a nesting limit (core.parsers).
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "merchants.api.schema.MerchantKeySchema",
    "EXCEPTION_HANDLER": "core.api.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{PLATFORM_NAME} API",
    "DESCRIPTION": (
        "Issue, check and redeem gift cards. Authenticate with a merchant API key "
        "(`Authorization: Bearer gk_live_...`). Amounts are integers in minor units. "
        "Every POST accepts an `Idempotency-Key`. Errors are RFC 9457 problem+json "
        "with a machine-readable `code`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1/",
    "ENUM_NAME_OVERRIDES": {
        "CardStatusEnum": "giftcards.models.CardStatus",
        "TransactionKindEnum": "giftcards.models.TransactionKind",
    },
}

# --- Logging ------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")  # json | console
# The request id, the client address (core.net.client_ip) and the one access line per
# request come from core.middleware.RequestLogMiddleware, not django-structlog's.

from core.logging import build_logging_config, configure_structlog  # noqa: E402

LOGGING = build_logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
configure_structlog(level=LOG_LEVEL)

"""Test profile: fast hashing, in-memory email, eager Celery; the database comes from
``DATABASE_URL`` (PostgreSQL in CI, SQLite otherwise)."""

import os

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-secret-key-" + "t" * 40
GIFTCARD_CODE_KEY = "test-only-code-key-" + "k" * 20
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
COMMUNICATIONS_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
COMMUNICATIONS_BACKENDS = {
    "email": "communications.backends.email.DjangoEmailBackend",
    "sms": "communications.backends.sms.InMemorySMSBackend",
    "push": "communications.backends.push.InMemoryPushBackend",
}
COMMUNICATIONS_DISPATCH_ON_COMMIT = False
CELERY_TASK_ALWAYS_EAGER = True
CELERY_BROKER_URL = "memory://"
STORAGES["default"] = {"BACKEND": "django.core.files.storage.InMemoryStorage"}
# Tests run each in isolation; a shared Redis would leak state between them.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
LOG_FORMAT = "json"
DEMO_DATA_ALLOWED = True
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# One test database per test process, so parallel runs on one PostgreSQL never collide.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

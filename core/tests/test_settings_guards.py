"""Production mode refuses unsafe configuration, naming the variable to fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings.guards import production_problems

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "p8Yq2Lr7Vd0Xk3Nw9Fs6Ht1Jm4Bz5Cg8Qe2Ua7Wy0Ro3Ti6Ep9Ls1Kd4Mf7Hx2"
GOOD_CODE_KEY = "c0de-k3y-" + "Zr8Qw2Lp5Nx7Vt1Kb4" * 2

GOOD = {
    "SECRET_KEY": GOOD_SECRET,
    "ALLOWED_HOSTS": ["gifts.example.com"],
    "SITE_URL": "https://gifts.example.com",
    "DEBUG": False,
    "GIFTCARD_CODE_KEY": GOOD_CODE_KEY,
    "CORS_ALLOW_ALL_ORIGINS": False,
    "PAYMENT_PROVIDER": "stripe",
    "STRIPE_SECRET_KEY": "sk_live_example",
    "STRIPE_WEBHOOK_SECRET": "whsec_example",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "CACHES": {"default": {"BACKEND": "django_redis.cache.RedisCache"}},
    "COMMUNICATIONS_DELIVERY_TIME_LIMIT": 300,
    "COMMUNICATIONS_CLAIM_TIMEOUT": 600,
}
LOCAL_MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def test_a_complete_configuration_has_no_problems() -> None:
    assert production_problems(GOOD) == []


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
        ({"SECRET_KEY": "short-secret"}, "SECRET_KEY is too short"),
        ({"SECRET_KEY": "django-insecure-" + "a1b2c3d4e5" * 5}, "SECRET_KEY looks like"),
        ({"SECRET_KEY": "a" * 60}, "SECRET_KEY looks like"),
        ({"ALLOWED_HOSTS": []}, "ALLOWED_HOSTS is not set"),
        ({"ALLOWED_HOSTS": ["*"]}, "ALLOWED_HOSTS contains '*'"),
        ({"DEBUG": True}, "DEBUG is on"),
        ({"GIFTCARD_CODE_KEY": ""}, "GIFTCARD_CODE_KEY"),
        ({"CORS_ALLOW_ALL_ORIGINS": True}, "CORS_ALLOW_ALL_ORIGINS"),
        ({"PAYMENT_PROVIDER": "test"}, "PAYMENT_PROVIDER is 'test'"),
        ({"STRIPE_SECRET_KEY": ""}, "PAYMENT_PROVIDER is 'stripe' but STRIPE_SECRET_KEY"),
        ({"STRIPE_WEBHOOK_SECRET": ""}, "PAYMENT_PROVIDER is 'stripe' but STRIPE_WEBHOOK"),
        ({"PAYMENT_PROVIDER": "paypal"}, "PAYMENT_PROVIDER is 'paypal'"),
        ({"CARD_LINK_MAX_AGE_DAYS": 0}, "CARD_LINK_MAX_AGE_DAYS is 0"),
        ({"CARD_LINK_MAX_AGE_DAYS": 10**10}, "CARD_LINK_MAX_AGE_DAYS is 10000000000"),
        ({"MERCHANT_INVITATION_DAYS": -1}, "MERCHANT_INVITATION_DAYS is -1"),
        ({"SITE_URL": "http://gifts.example.com"}, "SITE_URL is 'http://gifts.example.com'"),
        ({"SITE_URL": ""}, "SITE_URL is ''"),
        ({"SITE_URL": "https://evil.example"}, "SITE_URL's host 'evil.example' is not in"),
        ({"REDIS_URL": "", "CACHES": LOCAL_MEMORY}, "REDIS_URL is not set"),
        ({"REDIS_URL": "", "CACHES": None}, "REDIS_URL is not set"),
        ({"CACHES": LOCAL_MEMORY}, "CACHES is not shared"),
        (
            {"CACHES": {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache"}}},
            "CACHES is not shared",
        ),
        ({"COMMUNICATIONS_CLAIM_TIMEOUT": 300}, "COMMUNICATIONS_CLAIM_TIMEOUT (300 s)"),
    ],
)
def test_each_unsafe_setting_is_named(override: dict[str, object], variable: str) -> None:
    problems = production_problems({**GOOD, **override})
    assert len(problems) == 1
    assert problems[0].startswith(variable)


def test_the_test_payment_provider_can_be_allowed_for_a_demo_site() -> None:
    conf = {**GOOD, "PAYMENT_PROVIDER": "test", "PAYMENT_TEST_PROVIDER_ALLOWED": True}
    assert production_problems(conf) == []


@pytest.mark.parametrize(
    "value",
    [
        "local-development-" + GOOD_SECRET,
        "Local-Development" + GOOD_SECRET,
        "  local-development-" + GOOD_CODE_KEY,
        "local-development",
    ],
)
@pytest.mark.parametrize("variable", ["SECRET_KEY", "GIFTCARD_CODE_KEY"])
def test_any_key_starting_with_local_development_is_refused(variable: str, value: str) -> None:
    problems = production_problems({**GOOD, variable: value})

    assert len(problems) == 1
    assert problems[0].startswith(variable)


@pytest.mark.parametrize("variable", ["SECRET_KEY", "GIFTCARD_CODE_KEY"])
def test_the_test_profile_keys_are_refused_too(variable: str) -> None:
    from config.settings import test as test_settings

    problems = production_problems({**GOOD, variable: getattr(test_settings, variable)})

    assert len(problems) == 1
    assert problems[0].startswith(variable)


def _local_profile_keys() -> dict[str, str]:
    """The keys the development profile runs with when none are set, read from the
    profile itself rather than copied here."""
    code = (
        "import json; from django.conf import settings as s;"
        "print(json.dumps({'SECRET_KEY': s.SECRET_KEY,"
        " 'GIFTCARD_CODE_KEY': s.GIFTCARD_CODE_KEY}))"
    )
    result = _run({"DJANGO_SETTINGS_MODULE": "config.settings.local"}, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    keys: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    return keys


def test_the_development_profile_keys_are_refused_in_production() -> None:
    keys = _local_profile_keys()
    assert all(keys.values())

    for variable, value in keys.items():
        problems = production_problems({**GOOD, variable: value})
        assert len(problems) == 1, (variable, problems)
        assert problems[0].startswith(f"{variable} looks like a development placeholder")

    result = _run(_production_env(**keys), "check")
    assert result.returncode != 0
    assert "SECRET_KEY looks like a development placeholder" in result.stderr
    assert "GIFTCARD_CODE_KEY looks like a development placeholder" in result.stderr


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
    clean.pop("SECRET_KEY", None)
    clean.pop("ALLOWED_HOSTS", None)
    clean.pop("DEBUG", None)
    clean.pop("GIFTCARD_CODE_KEY", None)
    clean.pop("REDIS_URL", None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _production_env(**overrides: str) -> dict[str, str]:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": GOOD_SECRET,
        "ALLOWED_HOSTS": "gifts.example.com",
        "SITE_URL": "https://gifts.example.com",
        "GIFTCARD_CODE_KEY": GOOD_CODE_KEY,
        "DATABASE_URL": "sqlite:////tmp/giftwell-deploy-check.sqlite3",
        "PAYMENT_PROVIDER": "stripe",
        "STRIPE_SECRET_KEY": "sk_live_example",
        "STRIPE_WEBHOOK_SECRET": "whsec_example",
        # Never connected to by these checks; the cache must only be a shared one.
        "REDIS_URL": "redis://127.0.0.1:6379/11",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v != ""}


@pytest.mark.parametrize(
    ("missing", "message"),
    [("SECRET_KEY", "SECRET_KEY is not set"), ("ALLOWED_HOSTS", "ALLOWED_HOSTS is not set")],
)
def test_production_refuses_to_start_without_a_required_variable(
    missing: str, message: str
) -> None:
    result = _run(_production_env(**{missing: ""}), "check")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" in result.stderr or "ImproperlyConfigured" in result.stderr


def test_production_refuses_the_test_payment_provider() -> None:
    result = _run(_production_env(PAYMENT_PROVIDER="test"), "check")
    assert result.returncode != 0
    assert "PAYMENT_PROVIDER is 'test'" in result.stderr


def test_production_refuses_debug_on() -> None:
    result = _run(_production_env(DEBUG="true"), "check")
    assert result.returncode != 0
    assert "DEBUG is on" in result.stderr


def test_production_refuses_a_cache_each_process_keeps_to_itself() -> None:
    result = _run(_production_env(REDIS_URL=""), "check")
    assert result.returncode != 0
    assert "REDIS_URL is not set: the cache is LocMemCache" in result.stderr
    assert "every web and worker process shares" in result.stderr


def test_the_local_profile_shares_a_file_cache_between_its_processes_and_needs_nothing() -> None:
    # make run's web server, worker and beat count limits together without Redis.
    code = "from django.conf import settings as s; print(s.CACHES['default']['BACKEND'])"
    result = _run({"DJANGO_SETTINGS_MODULE": "config.settings.local"}, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("FileBasedCache")


def test_local_profile_with_debug_off_applies_the_same_guards() -> None:
    result = _run({"DJANGO_SETTINGS_MODULE": "config.settings.local", "DEBUG": "false"}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = _run(_production_env(), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_trusts_the_proxy_and_hardens_transport() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)"
    )
    result = _run(_production_env(), "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert "('HTTP_X_FORWARDED_PROTO', 'https') True 31536000 True True" in result.stdout

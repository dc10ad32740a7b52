"""Nothing leaves the platform except through ``communications.services.send`` (CM-2).

Every project module outside the ``communications`` package is parsed and searched for a
way to send that bypasses it: Django's mail functions and message classes, a mail
connection, smtplib, Twilio's REST client, Web Push. Django's own mail API is safe only
because ``EMAIL_BACKEND`` is the gateway into ``send``, which is checked too.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = frozenset(
    {".venv", "venv", "node_modules", "migrations", "staticfiles", "media", ".git", "build"}
)
# The one package allowed to talk to providers.
ALLOWED_PACKAGE = ROOT / "communications"

MAIL_MODULES = frozenset({"django.core.mail", "django.core.mail.message"})
# Names in django.core.mail that send, or build something that can send.
MAIL_SENDERS = frozenset(
    {
        "send_mail",
        "send_mass_mail",
        "mail_admins",
        "mail_managers",
        "get_connection",
        "EmailMessage",
        "EmailMultiAlternatives",
    }
)
# Called by these names (however they were imported), they send.
SENDING_CALLS = MAIL_SENDERS - {"get_connection"} | {"webpush"}
SENDING_MODULES = ("smtplib", "twilio.rest", "pywebpush", "py_vapid", "http_ece")
GATEWAY = "communications.mail.GatewayEmailBackend"


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _dotted(node: ast.expr) -> str:
    """``a.b.c`` for a Name/Attribute chain, ``""`` for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else ""
    return ""


def _is_sending_module(name: str) -> bool:
    return any(name == module or name.startswith(module + ".") for module in SENDING_MODULES)


def _is_method_of_own_class(receiver: ast.expr) -> bool:
    """``self.send_mail(...)`` and ``super().send_mail(...)``: an overridden hook (allauth's
    adapter), not Django's function."""
    if isinstance(receiver, ast.Name) and receiver.id in {"self", "cls"}:
        return True
    return (
        isinstance(receiver, ast.Call)
        and isinstance(receiver.func, ast.Name)
        and receiver.func.id == "super"
    )


class DirectSendFinder(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.findings: list[Finding] = []

    def _flag(self, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(self.path, getattr(node, "lineno", 0), what))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if _is_sending_module(alias.name):
                self._flag(node, f"imports {alias.name}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        for alias in node.names:
            full = f"{module}.{alias.name}"
            if _is_sending_module(module) or _is_sending_module(full):
                self._flag(node, f"imports {full}")
            elif module in MAIL_MODULES and alias.name in MAIL_SENDERS | {"*"}:
                self._flag(node, f"imports {alias.name} from {module}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        what = self._sending_call(node)
        if what:
            self._flag(node, what)
        self.generic_visit(node)

    def _sending_call(self, node: ast.Call) -> str:
        func = node.func
        name = _dotted(func)
        if name in {"importlib.import_module", "import_module", "__import__"}:
            first = node.args[0] if node.args else None
            module = first.value if isinstance(first, ast.Constant) else None
            if isinstance(module, str) and (_is_sending_module(module) or module in MAIL_MODULES):
                return f"imports {module} at run time"
            return ""
        if isinstance(func, ast.Name):
            return f"calls {func.id}()" if func.id in SENDING_CALLS else ""
        if not isinstance(func, ast.Attribute) or _is_method_of_own_class(func.value):
            return ""
        receiver = _dotted(func.value)
        from_mail = receiver == "mail" or receiver.endswith(".mail")
        if (
            (func.attr in MAIL_SENDERS and from_mail)
            or func.attr in SENDING_CALLS - MAIL_SENDERS
            or _is_sending_module(receiver)
        ):
            return f"calls {receiver}.{func.attr}()"
        return ""


def find_direct_sends(source: str, path: str = "<source>") -> list[Finding]:
    finder = DirectSendFinder(path)
    finder.visit(ast.parse(source, filename=path))
    return finder.findings


def _is_test_file(path: Path) -> bool:
    return (
        path.name.startswith("test_")
        or path.name == "conftest.py"
        or "tests" in path.relative_to(ROOT).parts
    )


def project_files() -> list[Path]:
    files = []
    for directory, subdirs, names in os.walk(ROOT):
        here = Path(directory)
        subdirs[:] = sorted(
            name
            for name in subdirs
            if name not in SKIPPED_DIRS
            and not name.startswith(".")
            and here / name != ALLOWED_PACKAGE
        )
        files += [
            here / name
            for name in sorted(names)
            if name.endswith(".py") and not _is_test_file(here / name)
        ]
    return files


# --- The checker itself can fail ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "from django.core.mail import send_mail\n"
            "def notify(user):\n"
            "    send_mail('Hi', 'Body', None, [user.email])\n",
            ["imports send_mail from django.core.mail", "calls send_mail()"],
        ),
        (
            "from django.core import mail\nmail.send_mail('Hi', 'Body', None, ['a@b.c'])\n",
            ["calls mail.send_mail()"],
        ),
        (
            "import django.core.mail\ndjango.core.mail.mail_admins('Boom', 'Details')\n",
            ["calls django.core.mail.mail_admins()"],
        ),
        (
            "from django.core.mail import EmailMultiAlternatives as Email\n"
            "Email('s', 'b', to=['a@b.c']).send()\n",
            ["imports EmailMultiAlternatives from django.core.mail"],
        ),
        (
            "from django.core import mail\n"
            "mail.EmailMessage('s', 'b', to=['a@b.c'], connection=mail.get_connection()).send()\n",
            ["calls mail.EmailMessage()", "calls mail.get_connection()"],
        ),
        ("import smtplib\nsmtplib.SMTP('localhost').sendmail('a', ['b'], 'x')\n", None),
        ("from twilio.rest import Client\nClient('AC', 'token').messages.create(to='+1')\n", None),
        ("from twilio import rest\n", ["imports twilio.rest"]),
        ("import pywebpush\n", ["imports pywebpush"]),
        ("from pywebpush import webpush\nwebpush({}, 'hi')\n", None),
        ("import importlib\nimportlib.import_module('smtplib')\n", None),
    ],
)
def test_the_checker_flags_direct_sends(source: str, expected: list[str] | None) -> None:
    found = [finding.what for finding in find_direct_sends(source)]
    assert found, "a direct send went unnoticed"
    if expected is not None:
        assert found == expected


@pytest.mark.parametrize(
    "source",
    [
        "from communications.services import Recipient, send\n"
        "send('gift_card_delivered', Recipient(email='a@b.c'), {})\n",
        # allauth's adapter hook, which routes through send
        "class A:\n    def send_mail(self, t, e, c):\n        return super().send_mail(t, e, c)\n",
        "from django.db import transaction\ntransaction.get_connection()\n",
        "from django.core import mail\nassert len(mail.outbox) == 1\n",
        "from django.test import Client\nClient().post('/')\n",
    ],
)
def test_the_checker_leaves_the_one_send_path_alone(source: str) -> None:
    assert find_direct_sends(source) == []


def test_the_checker_walks_the_project() -> None:
    files = {path.relative_to(ROOT).as_posix() for path in project_files()}
    assert "accounts/adapter.py" in files
    assert "config/settings/base.py" in files
    assert not any(name.startswith("communications/") for name in files)
    assert not any("/migrations/" in name or name.startswith(".venv/") for name in files)


# --- The project ----------------------------------------------------------------------


def test_nothing_outside_communications_sends_directly() -> None:
    findings = []
    for path in project_files():
        source = path.read_text(encoding="utf-8")
        findings += find_direct_sends(source, path.relative_to(ROOT).as_posix())
    assert findings == [], "Send through communications.services.send:\n" + "\n".join(
        str(finding) for finding in findings
    )


def test_djangos_mail_api_goes_through_the_gateway() -> None:
    """Libraries (allauth, error reports) send the Django way; the gateway is what makes
    that a call to ``send``. (The test run itself swaps in Django's test outbox, so the
    settings files are read.)"""
    from config.settings import base

    assert base.EMAIL_BACKEND == GATEWAY
    for path in sorted((ROOT / "config" / "settings").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(_dotted(target) == "EMAIL_BACKEND" for target in targets):
                    assert isinstance(node.value, ast.Constant), path.name
                    assert node.value.value == GATEWAY, path.name

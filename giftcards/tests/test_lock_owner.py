"""Card locks are taken in one place: only modules of the ``giftcards`` package import
``giftcards.locks``; other apps ask a service (``giftcards.services``), which locks for
them. Every project module is parsed, so an import of any form is found."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
OWNER = ROOT / "giftcards"
SKIPPED_DIRS = frozenset({".venv", "venv", "node_modules", ".git", "build", "static"})
LOCKS = "giftcards.locks"


def _modules() -> list[Path]:
    found = []
    for path in ROOT.rglob("*.py"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIPPED_DIRS or path.is_relative_to(OWNER):
            continue
        found.append(path)
    return found


def _imports_locks(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(
                alias.name == LOCKS or alias.name.startswith(LOCKS + ".") for alias in node.names
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            module = node.module or ""
            if module == LOCKS or (
                module == "giftcards" and any(alias.name == "locks" for alias in node.names)
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and node.args:
            # importlib.import_module("giftcards.locks") and __import__("giftcards.locks")
            first = node.args[0]
            if isinstance(first, ast.Constant) and first.value == LOCKS:
                lines.append(node.lineno)
    return sorted(lines)


def test_no_module_outside_giftcards_imports_its_locks() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _modules()
        for line in _imports_locks(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert offenders == [], "Ask a giftcards service instead of locking a card: " + ", ".join(
        offenders
    )


def test_the_check_finds_each_form_of_import() -> None:
    source = (
        "import giftcards.locks\n"
        "from giftcards.locks import lock_card\n"
        "from giftcards import locks\n"
        "import importlib\nimportlib.import_module('giftcards.locks')\n"
        "from giftcards import services\n"
    )
    assert _imports_locks(ast.parse(source)) == [1, 2, 3, 5]
    assert len(_modules()) > 50

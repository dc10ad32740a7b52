"""The apps depend one way: no cycle between them, the import contracts in pyproject.toml
hold (``lint-imports`` checks them in ``make test`` too), and docs/architecture.md draws
the same layers as the contract."""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from functools import cache
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
APPS: list[str] = CONFIG["root_packages"]

Edges = dict[tuple[str, str], list[str]]


@cache
def app_imports() -> Edges:
    """``(importer app, imported app)`` -> the module imports behind it, tests left out
    (they may import across layers)."""
    graph = grimp.build_graph(*APPS, cache_dir=None)
    edges: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for module in graph.modules:
        if "tests" in module.split("."):
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            importer_app, imported_app = module.split(".")[0], imported.split(".")[0]
            if importer_app != imported_app:
                edges[(importer_app, imported_app)].append(f"{module} -> {imported}")
    return dict(edges)


def find_cycle(edges: Edges) -> list[str] | None:
    """One cycle of apps (``[a, b, a]``) when the imports have one, else None."""
    after: defaultdict[str, set[str]] = defaultdict(set)
    for importer, imported in edges:
        after[importer].add(imported)
    done: set[str] = set()

    def walk(app: str, path: list[str]) -> list[str] | None:
        if app in path:
            return [*path[path.index(app) :], app]
        if app in done:
            return None
        for imported in sorted(after[app]):
            found = walk(imported, [*path, app])
            if found:
                return found
        done.add(app)
        return None

    for app in sorted(after):
        found = walk(app, [])
        if found:
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    line: Edges = {("a", "b"): ["a.x -> b.y"], ("b", "c"): ["b.y -> c.z"]}
    assert find_cycle(line) is None
    assert find_cycle({**line, ("c", "a"): ["c.z -> a.x"]}) == ["a", "b", "c", "a"]


def test_the_apps_import_each_other_without_a_cycle() -> None:
    edges = app_imports()
    assert ("giftcards", "merchants") in edges  # the graph was read
    cycle = find_cycle(edges)
    evidence = [
        f"{a} -> {b}: {edges[(a, b)][0]}"
        for a, b in zip(cycle or [], (cycle or [])[1:], strict=False)
    ]
    assert cycle is None, "the apps import in a circle:\n" + "\n".join(evidence)


def test_the_import_contracts_hold() -> None:
    assert lint_imports(no_cache=True, no_logo=True) == 0


def _contract_layers() -> list[str]:
    [layers] = [c for c in CONFIG["contracts"] if c["id"] == "layers"]
    return [re.sub(r"\s*\|\s*", " | ", layer.strip()) for layer in layers["layers"]]


def test_the_architecture_notes_draw_the_contract_layers() -> None:
    notes = (ROOT / "docs" / "architecture.md").read_text()
    section = notes.split("\n## Layers\n", 1)[1]
    block = section.split("```text\n", 1)[1].split("```", 1)[0]
    drawn = [re.split(r"\s{2,}", line.strip())[0] for line in block.splitlines() if line.strip()]
    assert drawn == _contract_layers()

"""Safe rendering of admin-edited templates (CM-4).

Templates use Jinja2's sandbox with no loader: ``include``, ``import``, ``extends`` and
``from`` are refused when the template is saved, the sandbox blocks attribute access
that reaches into Python internals, and a template may use only the variables its
template declares. HTML bodies are autoescaped; text bodies and subjects are not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

_FORBIDDEN = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)


def _environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, loader=None, keep_trailing_newline=True
    )


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered, with a message for the editor."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def check(source: str, *, declared: list[str], html: bool = False, field: str = "body") -> None:
    """Refuse ``source`` when it does not parse, uses a forbidden tag or an undeclared
    variable. The message names the problem so the editor can fix it."""
    env = _HTML if html else _TEXT
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"{field}: syntax error on line {exc.lineno}: {exc.message}") from exc
    for node in tree.find_all(_FORBIDDEN):
        raise TemplateProblem(
            f"{field}: the '{type(node).__name__.lower()}' tag is not allowed in messages."
        )
    unknown = sorted(meta.find_undeclared_variables(tree) - set(declared))
    if unknown:
        raise TemplateProblem(
            f"{field}: unknown variable(s) {', '.join(unknown)}. "
            f"Declared: {', '.join(declared) or 'none'}."
        )


def render_one(source: str, context: dict[str, Any], *, html: bool = False) -> str:
    if not source:
        return ""
    env = _HTML if html else _TEXT
    try:
        return env.from_string(source).render(**context)
    except (UndefinedError, SecurityError, TemplateSyntaxError, TypeError, ValueError) as exc:
        raise TemplateProblem(f"The template could not be rendered: {exc}") from exc


def render(
    *, subject: str, text: str, html: str, context: dict[str, Any], declared: list[str]
) -> Rendered:
    """Render all parts with only the declared variables visible."""
    visible = {name: context[name] for name in declared if name in context}
    return Rendered(
        subject=" ".join(render_one(subject, visible).split()),
        text=render_one(text, visible),
        html=render_one(html, visible, html=True),
    )

"""Safe rendering of admin-edited templates (CM-4).

Templates use Jinja2's sandbox with no loader and no globals. A template may use only
the variables its template declares (``range``, ``lipsum``, ``cycler``, ``joiner``,
``namespace``, ``dict`` and ``self`` are not variables), only the filters in
``ALLOWED_FILTERS``, and none of ``include``, ``import``, ``extends``, ``from`` or
``autoescape``; the sandbox blocks attribute access that reaches into Python internals.
HTML bodies are always autoescaped: nothing a template can write turns escaping off, so
what a buyer typed is escaped whatever an admin writes. Only code can hand a template
ready-made HTML, by passing a ``markupsafe.Markup`` value. Text bodies and subjects are
not escaped.

The same checks run when a version is saved and every time one is rendered, so a version
saved before a rule existed fails to render rather than bypass it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

_FORBIDDEN = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)

# The filters a template may use, and why each is harmless: every one returns plain text
# or a number (which the HTML body then escapes) or escaped markup, takes only literals
# as arguments, and reaches no attribute by name. Left out on purpose: ``safe`` (turns
# escaping off), ``format`` (printf formatting, and with markup an escape hatch),
# ``attr``, ``map``, ``select``/``reject``(``attr``), ``sort``, ``groupby``, ``sum``,
# ``min``/``max``, ``unique``, ``dictsort``, ``join`` (look attributes up by a name the
# template chooses), ``xmlattr``, ``urlize``, ``tojson`` (build markup from values),
# ``pprint`` (shows Python internals), ``random`` and anything else not needed to word a
# message.
ALLOWED_FILTERS: dict[str, str] = {
    "upper": "changes the case of the text",
    "lower": "changes the case of the text",
    "title": "changes the case of the text",
    "capitalize": "changes the case of the text",
    "trim": "removes surrounding spaces",
    "truncate": "shortens the text",
    "wordwrap": "breaks long lines (text bodies)",
    "replace": "replaces one literal with another; the input is escaped first in HTML",
    "striptags": "removes tags and returns plain text, escaped again in HTML",
    "default": "a fallback for an empty value",
    "d": "short for default",
    "length": "a number",
    "escape": "escapes the text",
    "e": "short for escape",
    "round": "a number",
    "int": "a number",
}

# Jinja resolves ``self`` (the template's blocks) without looking in the context, so the
# undeclared-variable search never reports it.
_IMPLICIT_NAMES = ("self",)


def _environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, loader=None, keep_trailing_newline=True
    )
    # No globals: a name is a declared variable or nothing (and the undeclared-variable
    # check sees ``range`` and the others once they are not globals).
    env.globals.clear()
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    return env


_TEXT = _environment(autoescape=False)
_HTML = _environment(autoescape=True)


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered, with a message for the editor."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _refuse_unsafe(tree: nodes.Template, *, field: str) -> None:
    """Refuse the tags, filters and names no message may use."""
    for node in tree.find_all(_FORBIDDEN):
        raise TemplateProblem(
            f"{field}: the '{type(node).__name__.lower()}' tag is not allowed in messages."
        )
    for _ in tree.find_all((nodes.EvalContextModifier, nodes.MarkSafe, nodes.MarkSafeIfAutoescape)):
        raise TemplateProblem(
            f"{field}: the 'autoescape' tag is not allowed in messages: what a message "
            "shows is always escaped in HTML."
        )
    for filter_node in tree.find_all(nodes.Filter):
        if filter_node.name == "safe":
            raise TemplateProblem(
                f"{field}: the 'safe' filter is not allowed in messages: what a message "
                "shows is always escaped in HTML."
            )
        if filter_node.name not in ALLOWED_FILTERS:
            raise TemplateProblem(
                f"{field}: the '{filter_node.name}' filter is not allowed in messages. "
                f"Allowed: {', '.join(ALLOWED_FILTERS)}."
            )


def _refuse_undeclared(tree: nodes.Template, *, declared: Collection[str], field: str) -> None:
    used = meta.find_undeclared_variables(tree)
    used.update(
        name.name
        for name in tree.find_all(nodes.Name)
        if name.name in _IMPLICIT_NAMES and name.ctx == "load"
    )
    unknown = sorted(used - set(declared))
    if unknown:
        raise TemplateProblem(
            f"{field}: unknown variable(s) {', '.join(unknown)}. "
            f"Declared: {', '.join(declared) or 'none'}."
        )


def _compile(source: str, *, html: bool, field: str, declared: Collection[str] | None) -> Template:
    """Parse ``source`` once, refuse what it may not use, and compile that same tree."""
    env = _HTML if html else _TEXT
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"{field}: syntax error on line {exc.lineno}: {exc.message}") from exc
    _refuse_unsafe(tree, field=field)
    if declared is not None:
        _refuse_undeclared(tree, declared=declared, field=field)
    try:
        return env.from_string(tree)
    except TemplateError as exc:
        raise TemplateProblem(f"{field}: {exc.message}") from exc


def check(source: str, *, declared: list[str], html: bool = False, field: str = "body") -> None:
    """Refuse ``source`` when it does not parse, uses a forbidden tag or filter, turns
    escaping off, or uses an undeclared variable. The message names the problem so the
    editor can fix it."""
    _compile(source, html=html, field=field, declared=declared)


def render_one(
    source: str,
    context: dict[str, Any],
    *,
    html: bool = False,
    declared: Collection[str] | None = None,
    field: str = "body",
) -> str:
    """Render one part. The tags, filters and names a template may not use are refused
    here too, whenever the version was saved; with ``declared``, so are undeclared
    variables."""
    if not source:
        return ""
    template = _compile(source, html=html, field=field, declared=declared)
    try:
        return template.render(**context)
    # Whatever an admin's template raises (an undefined name, the sandbox, a filter given
    # the wrong input, a division by zero) is a problem of the template, never a crash.
    except Exception as exc:
        raise TemplateProblem(
            f"The template could not be rendered: {_without_values(str(exc), context)}"
        ) from None


def _without_values(message: str, context: dict[str, Any]) -> str:
    """The error's text with every value of the message taken out: an error can quote
    what it tripped on (``{{ {}[code] }}`` names the key), and the text goes into the
    log, where a card code must never appear."""
    for value in context.values():
        text = str(value) if isinstance(value, str | int) else ""
        if len(text) >= 4:
            message = message.replace(text, "[value]")
    return message


def render(
    *, subject: str, text: str, html: str, context: dict[str, Any], declared: list[str]
) -> Rendered:
    """Render all parts with only the declared variables visible."""
    visible = {name: context[name] for name in declared if name in context}
    return Rendered(
        subject=" ".join(render_one(subject, visible, declared=declared, field="Subject").split()),
        text=render_one(text, visible, declared=declared, field="Text body"),
        html=render_one(html, visible, html=True, declared=declared, field="HTML body"),
    )

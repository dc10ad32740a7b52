"""Safe rendering of admin-edited templates (CM-4).

Templates use Jinja2's sandbox with no loader and no globals. A template may use only
the variables its template declares (``range``, ``lipsum``, ``cycler``, ``joiner``,
``namespace``, ``dict`` and ``self`` are not variables), only the filters in
``ALLOWED_FILTERS``, and none of ``include``, ``import``, ``extends``, ``from``,
``autoescape`` or recursive loops; the sandbox blocks attribute access that reaches into
Python internals. HTML bodies are always autoescaped: nothing a template can write turns
escaping off, so what a buyer typed is escaped whatever an admin writes. Only code can
hand a template ready-made HTML, by passing a ``markupsafe.Markup`` value. Text bodies
and subjects are not escaped.

What a template costs is bounded while it renders, never measured afterwards, so a
100 MB text is never built:

* output: a rendered part stops as soon as it passes its channel's cap (``LIMITS``);
* values: every text or list the template builds holds at most ``MAX_VALUE_CHARS``.
  Repetition (``*``), ``+``, padding, ``replace``, ``join`` and the widths of ``%`` and
  ``format`` are checked before they run, numbers stay below ``MAX_NUMBER``, and a list
  is never turned into text (its text could be any size: show its items in a loop);
* work: each loop iteration, call, filter, operator and each ``CHARS_PER_STEP``
  characters built or shown cost a step, and a render may take ``MAX_STEPS``.

The work cap counts steps rather than reading a clock, on purpose. Jinja has no timeout;
an alarm signal only works in the main thread (gunicorn's threaded workers and Celery's
thread pools render elsewhere) and a Python thread cannot be stopped from outside. A
count also gives the same answer on every machine and under any load: a text accepted
when it was saved cannot time out at send time because the server is busy. Each step is
bounded work (its values are capped), so the steps bound the time too.

A sender passes every variable its event declares; a value it does not have is empty
(``""``, an empty list) or None. A declared variable that is None or left out is
*absent*: shown as nothing and falsy in ``if``, but an error wherever the template needs
a value (``message[3]``, ``minutes * 60``). ``trial_render`` renders a part with the
sample data and then with each variable it uses empty and absent, so what would fail for
one real message fails when the text is saved.

The same checks run when a version is saved and every time one is rendered, so a version
saved before a rule existed fails to render rather than bypass it.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, wraps
from string import Formatter
from typing import Any, cast

from jinja2 import (
    StrictUndefined,
    Template,
    TemplateSyntaxError,
    Undefined,
    meta,
    nodes,
)
from jinja2.compiler import CodeGenerator, Frame
from jinja2.compiler import operators as comparisons
from jinja2.runtime import Context, LoopContext, Macro, markup_join, str_join
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from markupsafe import Markup

_FORBIDDEN = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)

# The filters a template may use, and why each is harmless: every one returns plain text
# or a number (which the HTML body then escapes) or escaped markup, takes only literals
# as arguments, and reaches no attribute by name. Left out on purpose: ``safe`` (turns
# escaping off), ``format`` (printf formatting, and with markup an escape hatch),
# ``attr``, ``map``, ``select``/``reject``(``attr``), ``sort``, ``groupby``, ``sum``,
# ``min``/``max``, ``unique``, ``dictsort``, ``join`` (look attributes up by a name the
# template chooses), ``xmlattr``, ``urlize``, ``tojson`` (build markup from values),
# ``pprint`` (shows Python internals), ``center``/``indent`` (pad by any width),
# ``random`` and anything else not needed to word a message.
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
# The filters that take any value rather than text.
_ANY_VALUE_FILTERS = frozenset({"default", "d", "length"})
# Filters and methods that work word by word in Python: measured, a hundred times slower
# on a long text than the others, so they count their input a hundred times.
_SLOW = {"title": 100, "wordwrap": 100, "striptags": 100}

# Jinja resolves ``self`` (the template's blocks) without looking in the context, so the
# undeclared-variable search never reports it.
_IMPLICIT_NAMES = ("self",)


@dataclass(frozen=True)
class PartLimits:
    """The most characters each rendered part of a message may have on one channel."""

    subject: int
    text: int
    html: int


KB = 1024
LIMITS: dict[str, PartLimits] = {
    # An email header line may not pass 998 characters (RFC 5322); a body part 256 KB.
    "email": PartLimits(subject=998, text=256 * KB, html=256 * KB),
    # 1,600 characters is the longest SMS body the provider (Twilio) accepts.
    "sms": PartLimits(subject=200, text=1_600, html=0),
    # A Web Push message is at most 4 KB once encrypted; title and body must fit in it.
    "push": PartLimits(subject=200, text=1_000, html=0),
}
# The template text of one part, as typed.
MAX_SOURCE_CHARS = 100_000
# Any text (characters) or list (items) a template builds while rendering.
MAX_VALUE_CHARS = 256 * KB
MAX_NUMBER = 10**18
MAX_STEPS = 20_000
# What one step reads or builds; measured, a step is a microsecond or two of work.
CHARS_PER_STEP = 1_000
ITEMS_PER_STEP = 100
NODES_PER_STEP = 3


class TemplateProblem(ValueError):
    """A template that cannot be saved or rendered, with a message for the editor."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


# --- Limits while rendering ---------------------------------------------------------


class _Refused(Exception):
    """A limit was reached: rendering stops at once. Deliberately not a ValueError,
    TypeError or LookupError, which Jinja and its filters catch and turn into something
    else."""


@dataclass
class _Budget:
    steps: int = MAX_STEPS

    def spend(self, steps: int) -> None:
        self.steps -= steps
        if self.steps < 0:
            raise _Refused(
                f"takes too much work to render (more than {MAX_STEPS:,} steps of loops, "
                "calls and text built)"
            )


# The budget of the render under way in this thread or task.
_BUDGET: ContextVar[_Budget | None] = ContextVar("message_template_budget", default=None)


def _spend(steps: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is None:
        # Only Jinja's folding of constants while compiling runs without a budget: a
        # refusal leaves the expression to be evaluated, and counted, while rendering.
        raise _Refused("evaluated while rendering only")
    budget.spend(steps)


def _is_list_like(value: Any) -> bool:
    return isinstance(value, Collection) and not isinstance(value, str | Undefined)


def _weight(value: Any) -> int:
    """The steps it takes to read ``value`` once: a step per ``CHARS_PER_STEP``
    characters of text, or per ``ITEMS_PER_STEP`` items of a list."""
    if isinstance(value, str):
        return len(value) // CHARS_PER_STEP
    if _is_list_like(value):
        return len(value) // ITEMS_PER_STEP
    return 0


def _read(*values: Any, slowness: int = 1) -> None:
    """Count reading ``values`` (comparing, searching, slicing them)."""
    _spend(1 + slowness * sum(_weight(value) for value in values))


def _built(value: Any) -> Any:
    """Check and count a value the template has just built."""
    if isinstance(value, str) or _is_list_like(value):
        if len(value) > MAX_VALUE_CHARS:
            raise _Refused(f"builds a text or a list longer than {MAX_VALUE_CHARS:,}")
        _read(value)
        return value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
        raise _Refused(f"builds a number larger than {MAX_NUMBER:,}")
    _spend()
    return value


def _as_text(value: Any) -> None:
    """Refuse turning a list or a mapping into text: its text could be any size."""
    if _is_list_like(value):
        raise _Refused(
            "shows a list or a mapping as text; show its items one by one with a for loop"
        )


def _shown(value: Any) -> Any:
    """Every ``{{ ... }}`` passes here before it becomes text (Jinja's ``finalize``)."""
    _as_text(value)
    _read(value)
    return value


def _too_wide(width: object) -> bool:
    return isinstance(width, int) and width > MAX_VALUE_CHARS


_SPEC_NUMBER = re.compile(r"\d+")
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _checked_test(function: Callable[..., Any]) -> Callable[..., Any]:
    """A test (``x is ...``), counted by what it reads."""

    @wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _read(*args, *kwargs.values())
        return function(*args, **kwargs)

    return checked


def _check_spec(spec: str) -> None:
    """A ``format`` field's spec: no width or precision past the value cap."""
    for number in _SPEC_NUMBER.findall(spec):
        if len(number) > 7 or int(number) > MAX_VALUE_CHARS:
            raise _Refused(f"formats with a width larger than {MAX_VALUE_CHARS:,}")


def _check_percent(template: str, values: Any) -> None:
    """``"..." % values``: widths within the cap, and no list shown as text."""
    for width, precision in _PERCENT_FIELD.findall(template):
        for number in (width, precision):
            if number == "*" or len(number) > 7 or (number and int(number) > MAX_VALUE_CHARS):
                raise _Refused(f"formats with a width larger than {MAX_VALUE_CHARS:,}")
    if isinstance(values, tuple):
        for value in values:
            _as_text(value)
    elif isinstance(values, Mapping):
        for value in values.values():
            _as_text(value)
    else:
        _as_text(values)


def _sized(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for sequence, times in ((left, right), (right, left)):
            size = _sized(sequence)
            if size is not None and isinstance(times, int) and size * times > MAX_VALUE_CHARS:
                raise _Refused(f"repeats a text or a list past {MAX_VALUE_CHARS:,}")
    elif operator == "+":
        left_size, right_size = _sized(left), _sized(right)
        both = left_size is not None and right_size is not None
        if both and (left_size or 0) + (right_size or 0) > MAX_VALUE_CHARS:
            raise _Refused(f"builds a text or a list longer than {MAX_VALUE_CHARS:,}")
    elif operator == "**":
        whole = isinstance(left, int) and isinstance(right, int) and right > 0
        if whole and right * (abs(left).bit_length() - 1) > MAX_NUMBER.bit_length():
            raise _Refused(f"builds a number larger than {MAX_NUMBER:,}")
    elif operator == "%" and isinstance(left, str):
        _check_percent(left, right)


def _replace_size(text: str, old: object, new: object, count: object) -> int:
    """How long ``text.replace(old, new, count)`` would be, without building it."""
    if not isinstance(old, str) or not isinstance(new, str):
        return len(text)
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    return len(text) + times * (len(new) - len(old))


# Methods of text a template may call; padding, ``replace`` and ``join`` are checked
# first. Left out: ``expandtabs`` and ``translate`` (grow a text by any factor),
# ``encode``, ``maketrans`` and the rest, which no message needs.
_TEXT_METHODS = frozenset(
    {
        "capitalize",
        "casefold",
        "center",
        "count",
        "endswith",
        "find",
        "index",
        "isalnum",
        "isalpha",
        "isdecimal",
        "isdigit",
        "islower",
        "isnumeric",
        "isspace",
        "istitle",
        "isupper",
        "join",
        "ljust",
        "lower",
        "lstrip",
        "partition",
        "removeprefix",
        "removesuffix",
        "replace",
        "rfind",
        "rindex",
        "rjust",
        "rpartition",
        "rsplit",
        "rstrip",
        "split",
        "splitlines",
        "startswith",
        "strip",
        "striptags",
        "swapcase",
        "title",
        "unescape",
        "upper",
        "zfill",
    }
)
_PADDING = frozenset({"center", "ljust", "rjust", "zfill"})
_MAPPING_METHODS = frozenset({"get", "items", "keys", "values"})
_LOOP_METHODS = frozenset({"cycle", "changed"})
# Marks the sandbox's own wrapper of ``str.format``, which checks every field.
_CHECKED_FORMAT = "_message_checked_format"


def _check_text_method(text: str, name: str, args: tuple[Any, ...]) -> None:
    if name in _PADDING and args and _too_wide(args[0]):
        raise _Refused(f"pads a text past {MAX_VALUE_CHARS:,}")
    if name == "replace" and len(args) >= 2:
        new = args[1]
        if isinstance(text, Markup) and isinstance(new, str):
            new = Markup.escape(new)
        count = args[2] if len(args) > 2 else -1
        if _replace_size(text, args[0], new, count) > MAX_VALUE_CHARS:
            raise _Refused(f"replaces into a text longer than {MAX_VALUE_CHARS:,}")
    if name == "join" and args:
        items = args[0]
        if not isinstance(items, Collection):
            raise _Refused("join() takes a list")
        size = sum(len(item) for item in items if isinstance(item, str))
        if size + len(text) * max(len(items) - 1, 0) > MAX_VALUE_CHARS:
            raise _Refused(f"joins into a text longer than {MAX_VALUE_CHARS:,}")


def _check_call(function: Any, args: tuple[Any, ...]) -> None:
    """Only macros, ``loop.cycle``/``changed``, ``get``/``items``/``keys``/``values`` of
    a mapping, ``format`` and the methods of text in ``_TEXT_METHODS`` may be called."""
    name = str(getattr(function, "__name__", ""))
    _read(getattr(function, "__self__", None), *args, slowness=_SLOW.get(name, 1))
    if isinstance(function, Macro) or getattr(function, _CHECKED_FORMAT, False):
        return
    if getattr(function, "__func__", None) in _COUNTERS:
        return  # the counting ``_count_work`` added
    owner = getattr(function, "__self__", None)
    if isinstance(owner, str) and name in _TEXT_METHODS:
        _check_text_method(owner, name, args)
        return
    if (isinstance(owner, Mapping) and name in _MAPPING_METHODS) or (
        isinstance(owner, LoopContext) and name in _LOOP_METHODS
    ):
        return
    raise _Refused(f"calls {name or 'something'}(), which messages may not call")


def _wordwrap_size(text: str, width: object, wrapstring: object) -> int:
    """At most how long ``wordwrap`` makes ``text``: a break per word or per ``width``."""
    joint = len(wrapstring) if isinstance(wrapstring, str) else 1
    per_line = width if isinstance(width, int) and width > 0 else 1
    breaks = len(text.split()) + text.count("\n") + len(text) // per_line + 1
    return len(text) + breaks * joint


def _checked_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its input checked before and its output after."""
    # The value is the first argument after what Jinja passes (eval context, environment).
    at = 1 if hasattr(function, "jinja_pass_arg") else 0

    @wraps(function)
    def checked(*args: Any, **kwargs: Any) -> Any:
        _read(*args[at:], *kwargs.values(), slowness=_SLOW.get(name, 1))
        value = args[at] if len(args) > at else None
        if name not in _ANY_VALUE_FILTERS:
            _as_text(value)
        text = str(value) if isinstance(value, str | int | float) else ""
        rest = args[at + 1 :]
        if name == "replace" and len(rest) >= 2:
            new = Markup.escape(rest[1]) if isinstance(rest[1], str) else rest[1]
            count = rest[2] if len(rest) > 2 else kwargs.get("count")
            if _replace_size(text, rest[0], new, count) > MAX_VALUE_CHARS:
                raise _Refused(f"replaces into a text longer than {MAX_VALUE_CHARS:,}")
        if name == "wordwrap":
            width = rest[0] if rest else kwargs.get("width", 79)
            joint = rest[2] if len(rest) > 2 else kwargs.get("wrapstring")
            if _wordwrap_size(text, width, joint) > MAX_VALUE_CHARS:
                raise _Refused(f"wraps into a text longer than {MAX_VALUE_CHARS:,}")
        return _built(function(*args, **kwargs))

    return checked


class _CheckedFormatting(Formatter):
    """``"...".format(...)``: no list shown as text, no width past the value cap."""

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        _as_text(value)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        _as_text(value)
        _check_spec(format_spec)
        _spend()
        return super().format_field(value, format_spec)


class _CheckedFormatter(_CheckedFormatting, SandboxedFormatter):
    pass


class _CheckedEscapeFormatter(_CheckedFormatting, SandboxedEscapeFormatter):
    pass


class _MessageCodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``~`` checked and comparisons counted by what they
    read (``a == b``, ``x in items``)."""

    def _weighed(self, node: nodes.Expr, frame: Frame) -> None:
        self.write("environment.weighed(")
        self.visit(node, frame)
        self.write(")")

    def visit_Getitem(self, node: nodes.Getitem, frame: Frame) -> None:  # noqa: N802
        # Jinja evaluates a slice in place, without the environment's ``getitem``.
        if isinstance(node.arg, nodes.Slice):
            self.write("environment.sliced(")
            super().visit_Getitem(node, frame)
            self.write(")")
        else:
            super().visit_Getitem(node, frame)

    def visit_Compare(self, node: nodes.Compare, frame: Frame) -> None:  # noqa: N802
        self.write("(")
        self._weighed(node.expr, frame)
        for operand in node.ops:
            self.visit(operand, frame)
        self.write(")")

    def visit_Operand(self, node: nodes.Operand, frame: Frame) -> None:  # noqa: N802
        self.write(f" {comparisons[node.op]} ")
        self._weighed(node.expr, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802
        self.write("environment.joined((")
        for part in node.nodes:
            self.visit(part, frame)
            self.write(", ")
        self.write("), context.eval_ctx.autoescape)")


class _MessageEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _MessageCodeGenerator
    # Every operator goes through ``call_binop`` (and none is folded while compiling).
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape,
            undefined=StrictUndefined,
            loader=None,
            keep_trailing_newline=True,
            finalize=_shown,
        )
        # No globals: a name is a declared variable or nothing (and the undeclared-variable
        # check sees ``range`` and the others once they are not globals).
        self.globals.clear()
        self.filters = {name: _checked_filter(name, self.filters[name]) for name in ALLOWED_FILTERS}
        self.tests = {
            name: _checked_test(cast(Callable[..., Any], test)) for name, test in self.tests.items()
        }

    def sliced(self, value: Any) -> Any:
        """``text[a:b]``, ``items[::-1]``: a copy, counted."""
        return _built(value)

    def weighed(self, value: Any) -> Any:
        """An operand of a comparison."""
        _read(value)
        return value

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        _read(left, right)
        return _built(super().call_binop(context, operator, left, right))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_call(__obj, args)
        return _built(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """The sandbox's ``format``/``format_map`` of a text, with every field checked."""
        if not isinstance(value, types.MethodType | types.BuiltinMethodType):
            return None
        if value.__name__ not in ("format", "format_map") or not isinstance(value.__self__, str):
            return None
        text: str = value.__self__
        formatter: SandboxedFormatter = (
            _CheckedEscapeFormatter(self, escape=text.escape)
            if isinstance(text, Markup)
            else _CheckedFormatter(self)
        )
        mapping = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            if mapping:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one mapping")
                return type(text)(formatter.vformat(text, (), args[0]))
            return type(text)(formatter.vformat(text, args, kwargs))

        checked.__name__ = value.__name__
        setattr(checked, _CHECKED_FORMAT, True)
        return checked

    def concat(self, parts: Iterable[str]) -> str:
        """What a ``set`` block, a macro or a filter block captured."""
        pieces = list(parts)
        size = sum(len(piece) for piece in pieces)
        if size > MAX_VALUE_CHARS:
            raise _Refused(f"builds a text longer than {MAX_VALUE_CHARS:,}")
        _spend(1 + size // CHARS_PER_STEP)
        return "".join(pieces)

    def joined(self, values: tuple[Any, ...], autoescape: bool) -> str:
        """``a ~ b ~ c``."""
        for value in values:
            _as_text(value)
        joined: str = _built(markup_join(values) if autoescape else str_join(values))
        return joined

    def counted(self, iterable: Iterable[Any], cost: int) -> Iterator[Any]:
        """A loop's iterable: each turn costs ``cost`` steps."""
        for item in iterable:
            _spend(cost)
            yield item

    def charge(self, cost: int) -> str:
        """The start of a macro's body: each call costs ``cost`` steps."""
        _spend(cost)
        return ""


_COUNTERS = (_MessageEnvironment.counted, _MessageEnvironment.charge)


_TEXT = _MessageEnvironment(autoescape=False)
_HTML = _MessageEnvironment(autoescape=True)


# --- Checking and compiling -----------------------------------------------------------


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
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            raise TemplateProblem(f"{field}: recursive loops are not allowed in messages.")


def _used_names(tree: nodes.Template) -> set[str]:
    used = meta.find_undeclared_variables(tree)
    used.update(
        name.name
        for name in tree.find_all(nodes.Name)
        if name.name in _IMPLICIT_NAMES and name.ctx == "load"
    )
    return used


def _refuse_undeclared(used: set[str], *, declared: Collection[str], field: str) -> None:
    unknown = sorted(used - set(declared))
    if unknown:
        raise TemplateProblem(
            f"{field}: unknown variable(s) {', '.join(unknown)}. "
            f"Declared: {', '.join(declared) or 'none'}."
        )


def _cost(node: nodes.Node) -> int:
    """The steps one turn of a loop or one call of a macro costs: one, plus its
    expressions (most of which count nothing on their own) and the text it writes."""
    expressions = sum(1 for _ in node.find_all(nodes.Expr))
    written = sum(len(data.data) for data in node.find_all(nodes.TemplateData))
    return 1 + expressions // NODES_PER_STEP + written // CHARS_PER_STEP


def _count_work(tree: nodes.Template, env: _MessageEnvironment) -> None:
    """Make every loop turn and every macro call pay for its body, whatever it does."""

    def call(method: str, *args: nodes.Expr) -> nodes.Call:
        return nodes.Call(nodes.EnvironmentAttribute(method), list(args), [], None, None)

    for loop in list(tree.find_all(nodes.For)):
        loop.iter = call("counted", cast(nodes.Expr, loop.iter), nodes.Const(_cost(loop)))
        loop.iter.set_lineno(loop.lineno).set_environment(env)
    for owner in list(tree.find_all((nodes.Macro, nodes.CallBlock))):
        charge = nodes.ExprStmt(call("charge", nodes.Const(_cost(owner))))
        body = cast(nodes.Macro | nodes.CallBlock, owner).body
        body.insert(0, charge.set_lineno(owner.lineno).set_environment(env))


def _unreadable(field: str, exc: Exception) -> str:
    return (
        f"{field}: cannot be read ({type(exc).__name__}): it nests too deeply or holds a "
        "number too long."
    )


@dataclass(frozen=True)
class _Compiled:
    template: Template
    used: frozenset[str]


def _compile(source: str, *, html: bool, field: str, declared: Collection[str] | None) -> _Compiled:
    """Parse ``source`` once, refuse what it may not use, and compile that same tree.
    Compiling takes far longer than rendering (half a second for the longest text), so
    each process keeps the templates it compiled last; a refusal is not kept."""
    names = None if declared is None else tuple(declared)
    return _compile_cached(source, html, field, names)


@lru_cache(maxsize=128)
def _compile_cached(
    source: str, html: bool, field: str, declared: tuple[str, ...] | None
) -> _Compiled:
    if len(source) > MAX_SOURCE_CHARS:
        raise TemplateProblem(f"{field}: is longer than {MAX_SOURCE_CHARS:,} characters.")
    env = _HTML if html else _TEXT
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"{field}: syntax error on line {exc.lineno}: {exc.message}") from exc
    # Anything else (a nesting too deep for Python's stack, a number too long to read)
    # is a problem of the text as well, never a crash.
    except Exception as exc:
        raise TemplateProblem(_unreadable(field, exc)) from None
    try:
        _refuse_unsafe(tree, field=field)
        used = _used_names(tree)
        if declared is not None:
            _refuse_undeclared(used, declared=declared, field=field)
        _count_work(tree, env)
        template = env.from_string(tree)
    except TemplateProblem:
        raise
    except Exception as exc:
        raise TemplateProblem(_unreadable(field, exc)) from None
    return _Compiled(template=template, used=frozenset(used))


def check(source: str, *, declared: list[str], html: bool = False, field: str = "body") -> None:
    """Refuse ``source`` when it does not parse, uses a forbidden tag or filter, turns
    escaping off, or uses an undeclared variable. The message names the problem so the
    editor can fix it."""
    _compile(source, html=html, field=field, declared=declared)


# --- Rendering ------------------------------------------------------------------------


def absent(name: str) -> Undefined:
    """A variable the sender did not give: shown as nothing, empty in a loop, false in
    ``if`` and with ``default`` applying; an error for anything that needs a value."""
    return Undefined(name=name)


def visible_context(context: Mapping[str, Any], declared: Iterable[str]) -> dict[str, Any]:
    """The declared variables and only those; one left out or given as None is absent."""
    return {name: absent(name) if context.get(name) is None else context[name] for name in declared}


def _empty_like(value: Any) -> Any:
    if isinstance(value, Markup):
        return Markup("")
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return type(value)(0)
    if isinstance(value, Mapping):
        return {}
    if _is_list_like(value):
        return []
    return ""


def _render_compiled(template: Template, context: dict[str, Any], *, limit: int) -> str:
    """Render, stopping at ``limit`` characters or when the budget is spent. Raises
    ``TemplateProblem`` with what went wrong (never a value of the message)."""
    token = _BUDGET.set(_Budget())
    stream = cast(Generator[str, None, None], template.generate(**context))
    try:
        written: list[str] = []
        size = 0
        for chunk in stream:
            size += len(chunk)
            if size > limit:
                raise _Refused(
                    f"is longer than {limit:,} characters, the most this channel's message may hold"
                )
            written.append(chunk)
        return "".join(written)
    except _Refused as exc:
        raise TemplateProblem(str(exc)) from None
    # Whatever an admin's template raises (an undefined name, the sandbox, a filter given
    # the wrong input, a division by zero, a recursion) is a problem of the template,
    # never a crash.
    except Exception as exc:
        raise TemplateProblem(
            f"could not be rendered: {_without_values(str(exc), context)}"
        ) from None
    finally:
        stream.close()
        _BUDGET.reset(token)


def render_one(
    source: str,
    context: dict[str, Any],
    *,
    html: bool = False,
    declared: Collection[str] | None = None,
    field: str = "body",
    limit: int = MAX_VALUE_CHARS,
) -> str:
    """Render one part. The tags, filters and names a template may not use are refused
    here too, whenever the version was saved; with ``declared``, so are undeclared
    variables."""
    if not source:
        return ""
    compiled = _compile(source, html=html, field=field, declared=declared)
    try:
        return _render_compiled(compiled.template, context, limit=limit)
    except TemplateProblem as exc:
        raise TemplateProblem(f"{field}: {exc}") from None


def trial_render(
    source: str,
    *,
    sample: Mapping[str, Any],
    declared: Collection[str],
    vary: Collection[str],
    html: bool,
    field: str,
    limit: int,
) -> str:
    """Render ``source`` with the sample data, then with each variable of ``vary`` it uses
    empty and absent in turn; return the sample rendering. The refusal says in which case
    the text fails."""
    if not source:
        return ""
    compiled = _compile(source, html=html, field=field, declared=declared)
    context = visible_context(sample, declared)
    cases: list[tuple[str, dict[str, Any]]] = [("with the sample data", context)]
    for name in sorted(compiled.used & set(vary)):
        cases.append((f"when {name} is empty", {**context, name: _empty_like(context[name])}))
        cases.append((f"when {name} is not given", {**context, name: absent(name)}))
    written = []
    for case, values in cases:
        try:
            written.append(_render_compiled(compiled.template, values, limit=limit))
        except TemplateProblem as exc:
            raise TemplateProblem(f"{field}: {exc} ({case}).") from None
    return written[0]


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
    *,
    subject: str,
    text: str,
    html: str,
    context: dict[str, Any],
    declared: list[str],
    limits: PartLimits,
) -> Rendered:
    """Render all parts with only the declared variables visible, each within its cap."""
    visible = visible_context(context, declared)
    return Rendered(
        subject=" ".join(
            render_one(
                subject, visible, declared=declared, field="Subject", limit=limits.subject
            ).split()
        ),
        text=render_one(text, visible, declared=declared, field="Text body", limit=limits.text),
        html=render_one(
            html, visible, html=True, declared=declared, field="HTML body", limit=limits.html
        ),
    )

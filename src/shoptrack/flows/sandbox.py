"""The sandbox flow templates render in: Jinja2's immutable sandbox, bounds on what one operation
may compute, a cap on the output, and the ``money`` filter.

Whoever holds an account's API key or a web UI user writes these templates, so a template is
hostile input. The sandbox keeps it from Python's internals; the *immutable* sandbox keeps it
from changing the profile or event it is shown (``{{ profile.update(...) }}``). One C call can
still run for minutes or take gigabytes (``9 ** (9 ** 7)``, ``"x" * 10 ** 9``), and no thread can
interrupt a C call: so the operands of ``**`` and ``*`` are bounded before the call is made.
What a bound per operation cannot see — a loop of a billion cheap steps, a filter asked for a
string of a gigabyte — the renderer's process stops (``flows.renderer``: a time limit that kills
the process, and a memory limit on it).

This module imports nothing of shoptrack's: the renderer's process loads it alone, fast.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateRuntimeError, Undefined
from jinja2.runtime import Context
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment

__all__ = [
    "MAX_INTEGER_BITS",
    "MAX_OUTPUT_BYTES",
    "TemplateLimitError",
    "TemplatePart",
    "environment",
    "money",
    "render_parts",
]

# The whole rendered email (every part together), in UTF-8.
MAX_OUTPUT_BYTES = 256 * 1024
# Integers a template computes: far beyond any amount or count, and any operation on two of
# them takes microseconds.
MAX_INTEGER_BITS = 4096
# Lists a template builds by repetition, as long as the sandbox's own bound on range().
MAX_SEQUENCE_ITEMS = MAX_RANGE


class TemplateLimitError(TemplateRuntimeError):
    """A template asked for more than a flow email may take (an operation's size, the output)."""


def money(value: Any, currency: Any = None) -> str:
    """An amount to two places, followed by its currency when known: ``29.98 EUR``."""
    if value is None or isinstance(value, Undefined):
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return str(value)
    return (
        f"{amount} {currency}" if currency and not isinstance(currency, Undefined) else str(amount)
    )


def _is_integer(value: Any) -> bool:
    return isinstance(value, int)


def _check_power(base: Any, exponent: Any) -> None:
    # Only integer powers grow without bound: a float overflows at once, a Decimal keeps to
    # its context's precision.
    if not (_is_integer(base) and _is_integer(exponent)) or exponent <= 1 or abs(base) <= 1:
        return
    if math.log2(abs(base)) * exponent > MAX_INTEGER_BITS:
        raise TemplateLimitError(
            f"{base} ** {exponent} is too large a number for a template "
            f"(at most {MAX_INTEGER_BITS} bits)"
        )


def _check_product(left: Any, right: Any) -> None:
    if _is_integer(left) and _is_integer(right):
        if abs(left).bit_length() + abs(right).bit_length() > MAX_INTEGER_BITS:
            raise TemplateLimitError(
                f"a product of numbers that large is too large a number for a template "
                f"(at most {MAX_INTEGER_BITS} bits)"
            )
        return
    sequence, times = (left, right) if _is_integer(right) else (right, left)
    if not _is_integer(times) or times <= 0 or not isinstance(sequence, str | list | tuple):
        return
    if isinstance(sequence, str):
        if len(sequence) * times > MAX_OUTPUT_BYTES:
            raise TemplateLimitError(
                f"a text repeated {times} times is longer than an email may be "
                f"({MAX_OUTPUT_BYTES // 1024} KB)"
            )
    elif len(sequence) * times > MAX_SEQUENCE_ITEMS:
        raise TemplateLimitError(
            f"a list repeated {times} times has more than {MAX_SEQUENCE_ITEMS} items"
        )


class FlowTemplateEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with ``**`` and ``*`` checked before they run; missing values
    render empty (``ChainableUndefined``: ``event.Items.0.Name`` of an event without items is
    "")."""

    intercepted_binops = frozenset({"**", "*"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(
            autoescape=autoescape, undefined=ChainableUndefined, keep_trailing_newline=True
        )
        self.filters["money"] = money
        # Filler text in any amount, on demand: nothing an email needs.
        del self.globals["lipsum"]

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            _check_power(left, right)
            return left**right
        if operator == "*":
            _check_product(left, right)
            return left * right
        return super().call_binop(context, operator, left, right)


_TEXT = FlowTemplateEnvironment(autoescape=False)
_HTML = FlowTemplateEnvironment(autoescape=True)


def environment(*, autoescape: bool) -> FlowTemplateEnvironment:
    """The environment of a text (``autoescape=False``) or an HTML template."""
    return _HTML if autoescape else _TEXT


@dataclass(frozen=True, slots=True)
class TemplatePart:
    """One template of an email: its name (``subject``, ``html``…), source and kind."""

    name: str
    source: str
    html: bool


@functools.lru_cache(maxsize=64)
def _compiled(source: str, html: bool) -> Template:
    # A flow's templates render for every profile that reaches the step: compile them once.
    return environment(autoescape=html).from_string(source)


def render_parts(parts: Sequence[TemplatePart], context: Mapping[str, Any]) -> dict[str, str]:
    """Every part rendered with ``context``, by name. Raises ``TemplateLimitError`` once the
    parts together pass ``MAX_OUTPUT_BYTES`` (rendering stops there), and Jinja2's errors for a
    template that fails."""
    room = MAX_OUTPUT_BYTES
    rendered: dict[str, str] = {}
    for part in parts:
        chunks: list[str] = []
        for chunk in _compiled(part.source, part.html).generate(context):
            # Strict: text that is no UTF-8 (a lone surrogate) fails here, not at the send.
            room -= len(chunk.encode("utf-8"))
            if room < 0:
                raise TemplateLimitError(
                    f"{part.name}: the email is longer than {MAX_OUTPUT_BYTES // 1024} KB"
                )
            chunks.append(chunk)
        rendered[part.name] = "".join(chunks)
    return rendered

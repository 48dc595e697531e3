"""The manifest-harness contract, written once in harnesses/base/CONTRACT.md: the Generator, Builder, Critic and
Tester get it in their system prompts, and every check of a clause cites it (`cite`), so a model reads the same
rule that rejects its work. The placeholders and the result's fields are filled from the code that defines them."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal, get_args, get_origin

import jinja2

CONTRACT_FILE = Path(__file__).resolve().parents[1] / "harnesses" / "base" / "CONTRACT.md"
_CLAUSE = re.compile(r"^§(\d+) ", re.MULTILINE)


def _kind(annotation: object) -> str:
    if get_origin(annotation) is Literal:
        return " | ".join(f'"{v}"' for v in get_args(annotation))
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _result_fields() -> str:
    from alphalab.results import RunResult

    lines = []
    for name, field in RunResult.model_fields.items():
        kind = _kind(field.annotation)
        lines.append(f"- `{name}` ({kind})" + (f": {field.description}" if field.description else ""))
    return "\n".join(lines)


@cache
def text() -> str:
    """The contract as the roles read it."""
    from alphalab.manifest import PLACEHOLDERS  # the manifest's checks cite this module's clauses

    placeholders = "\n".join(f"- `{{{name}}}`: {meaning}" for name, meaning in PLACEHOLDERS.items())
    template = jinja2.Template(CONTRACT_FILE.read_text(), undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return template.render(placeholders=placeholders, result_fields=_result_fields())


@cache
def clauses() -> tuple[int, ...]:
    return tuple(int(n) for n in _CLAUSE.findall(CONTRACT_FILE.read_text()))


def cite(n: int) -> str:
    """How a failed check names the clause it enforces."""
    if n not in clauses():
        raise ValueError(f"the harness contract has no §{n}")
    return f"(harness contract §{n}, {CONTRACT_FILE.relative_to(CONTRACT_FILE.parents[2]).as_posix()})"

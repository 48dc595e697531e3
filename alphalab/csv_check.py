"""A free-text domain's CSV data, checked before a campaign starts on it (alphalab.input_checks).

Its adapter is written by an LLM in Phase 0, and the code it writes would meet a file that is not UTF-8, a header
that is data, a ragged row or a target that the objective names but the file lacks only when it runs, phases
later and with a pandas traceback. Here each CSV file is read once with the stdlib parser (pandas costs a second
to import), every problem naming its file and line, and the target is taken from the objective's own words.

The target is read conservatively, as a false alarm would stop a good campaign: only a name written as a column
reference counts (quoted after "predict" or "target:", written as code, or followed by what it is predicted
from), and the check speaks only when none of the names so read is a column.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

MIN_ROWS = 10  # a model is fit on some rows and scored on held-out others: a handful of rows leaves nothing to score
SHOWN_COLUMNS = 20  # columns listed in a message; a wide table would otherwise fill the screen
DELIMITERS = ",;\t|"
# what pandas reads as a missing value (its default na_values, lowercased)
MISSING = {"", "na", "n/a", "nan", "-nan", "null", "none", "<na>", "#n/a", "#na", "#n/a n/a"}
# an objective scored by one of these wants a numeric target; a classification's labels may well be words
REGRESSION = re.compile(r"\b(?:rmse|rmsle|mse|mae|mape|smape|r2|r\^2|r²|regress\w*|mean (?:squared|absolute) error)\b",
                        re.IGNORECASE)

_VERB = r"predict(?:s|ed|ing)?|forecast(?:s|ed|ing)?|estimat(?:e|es|ed|ing)|regress(?:es|ed|ing)?"
_ANCHOR = re.compile(
    rf"\b(?P<verb>{_VERB})\s+(?:the\s+)?(?P<column>(?:target\s+)?column\s+|target\s+)?"
    r"|\b(?P<target>target|label)(?:\s+(?:column|variable))?\s*(?::|=|\bis\b)\s*(?:the\s+)?(?:column\s+)?",
    re.IGNORECASE)
_NAME = re.compile(r"`(?P<bq>[^`\n]+)`|\"(?P<dq>[^\"\n]+)\"|'(?P<sq>[^'\n]+)'|(?P<bare>[A-Za-z_][\w-]*(?:\.\w[\w-]*)*)")
# what may follow a column's name: the end of a clause, or the features it is predicted from
_END = re.compile(r"\s*(?:$|[;,.:)!?])")
_FROM = re.compile(r"\s+(?:from|given|using|based\s+on)\b", re.IGNORECASE)
_ON = re.compile(r"\s+on\b", re.IGNORECASE)  # "regress y on x"
# words that follow "predict" in plain English and are never meant as a column
_NOT_NAMES = {"a", "an", "the", "it", "its", "their", "this", "that", "these", "those", "which", "what", "whether",
              "who", "how", "when", "where", "if", "each", "every", "all", "any", "some", "future", "next", "new",
              "value", "values", "column", "target", "one"}


def _code_like(name: str) -> bool:
    # sale_price, y: names a person writes for a column, not in prose (where Q3, iPhone and YouTube are words)
    return "_" in name or (len(name) == 1 and name.isalpha())


def target_candidates(objective: str) -> list[str]:
    """The names the objective gives its target as column references, in order, each after predict/forecast/
    estimate/regress or "target:". A backquoted name elsewhere is no target: "use `lightgbm`"."""
    found: list[str] = []
    for anchor in _ANCHOR.finditer(objective):
        name = _NAME.match(objective, anchor.end())
        if name is None:
            continue
        if name["bare"] is None:
            found.append(name["bq"] or name["dq"] or name["sq"])
            continue
        word, rest = name["bare"], name.end()
        if word.lower() in _NOT_NAMES:
            continue
        regress = (anchor["verb"] or "").lower().startswith("regress")
        followed_by_features = bool(_FROM.match(objective, rest) or regress and _ON.match(objective, rest))
        named_as_column = bool(anchor["column"] or anchor["target"]) and bool(_END.match(objective, rest))
        if _code_like(word) or followed_by_features or named_as_column:
            found.append(word)
    return list(dict.fromkeys(name.strip() for name in found))


def csv_files(path: Path) -> list[Path]:
    """The CSV files of a data path: the file itself, or those under the folder (hidden ones skipped)."""
    if path.is_file():
        return [path] if path.suffix.lower() == ".csv" else []
    return sorted(p for p in path.rglob("*") if p.suffix.lower() == ".csv" and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(path).parts))


@dataclass
class _Values:
    """What one candidate target column holds in one file."""

    present: bool = False
    numeric: bool = False
    example: tuple[int, str] | None = None  # the line and text of a value that is not a number


@dataclass
class _Table:
    path: Path
    columns: list[str] = field(default_factory=list)
    rows: int = 0
    values: dict[str, _Values] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _undecodable_line(path: Path) -> str:
    # the text reader decodes in blocks, so its position says little: find the first bad line in the bytes
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return f"{path} line {n}: not UTF-8 text (byte 0x{raw[e.start]:02x}): save it as UTF-8"
    return f"{path}: not UTF-8 text: save it as UTF-8"


def _header_problems(where: str, header: list[str]) -> list[str]:
    if all(_is_number(name) for name in header):
        return [f"{where}: holds only numbers ({','.join(header[:5])}): the first row must be a header naming the "
                "columns"]
    out = []
    # pandas writes its index under an empty name (df.to_csv()): the first column may go unnamed
    out += [f"{where}: column {i} has no name" for i, name in enumerate(header, start=1) if not name.strip() and i > 1]
    out += [f"{where}: column `{name}` appears {n} times" for name, n in Counter(header).items() if n > 1 and name]
    return out


def _read_table(path: Path, candidates: list[str]) -> _Table:
    table = _Table(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            first = f.readline()
            f.seek(0)
            delimiter = max(DELIMITERS, key=first.count) if any(d in first for d in DELIMITERS) else ","
            reader = csv.reader(f, delimiter=delimiter)
            header = next((row for row in reader if row), None)  # blank lines, which pandas skips too
            if header is None:
                table.problems.append(f"{path}: empty: a CSV needs a header row and data rows")
                return table
            table.columns = header
            table.problems += _header_problems(f"{path} line {reader.line_num}", header)
            targets = {name: header.index(name) for name in candidates if name in header}
            table.values = {name: _Values() for name in targets}
            ragged, start = [], reader.line_num + 1
            for row in reader:
                line, start = start, reader.line_num + 1
                if not row:
                    continue
                table.rows += 1
                if len(row) != len(header):
                    ragged.append((line, len(row)))
                    continue
                for name, i in targets.items():
                    text = row[i].strip()
                    if text.lower() in MISSING:
                        continue
                    seen = table.values[name]
                    seen.present = True
                    if _is_number(text):
                        seen.numeric = True
                    elif seen.example is None:
                        seen.example = (line, text)
    except UnicodeDecodeError:
        return _Table(path, problems=[_undecodable_line(path)])
    except csv.Error as e:
        return _Table(path, problems=[f"{path} line {reader.line_num}: not valid CSV ({e})"])
    if ragged:
        line, n = ragged[0]
        more = f" ({len(ragged) - 1} more row(s) like it)" if len(ragged) > 1 else ""
        table.problems.append(f"{path} line {line}: {n} field(s), the header has {len(header)}{more}")
    if table.rows == 0:
        table.problems.append(f"{path}: no data rows, only the header")
    return table


def _shown(columns: list[str]) -> str:
    more = f", ... ({len(columns) - SHOWN_COLUMNS} more)" if len(columns) > SHOWN_COLUMNS else ""
    return ", ".join(columns[:SHOWN_COLUMNS]) + more


def _missing_target(config_path: Path, path: Path, name: str, tables: list[_Table]) -> str:
    close = sorted({c for t in tables for c in t.columns if c.strip().lower() == name.lower()})
    hint = f"; did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""
    if len(tables) == 1:
        where = f"{tables[0].path} (columns: {_shown(tables[0].columns)})"
    else:
        listed = "; ".join(f"{t.path.relative_to(path)}: {_shown(t.columns)}" for t in tables)
        where = f"any CSV file under {path} ({listed})"
    return f"{config_path}: field `objective`: names the target `{name}`, which is not a column of {where}{hint}"


def _target_problems(objective: str, name: str, tables: list[_Table]) -> list[str]:
    holding = [t for t in tables if name in t.values and t.rows]  # a file without rows is reported as such
    if not any(t.values[name].present for t in holding):
        return [f"{t.path}: column `{name}`, the target the objective names, is empty: no row has a value"
                for t in holding]
    if REGRESSION.search(objective) and not any(t.values[name].numeric for t in holding):
        return [f"{t.path} line {t.values[name].example[0]}: column `{name}`, the target the objective names, has no "
                f"numeric value (this row has {t.values[name].example[1]!r}) and the objective asks for a regression"
                for t in holding if t.values[name].example is not None]
    return []


def check_csv(path: Path, objective: str, config_path: Path) -> list[str]:
    """Every problem with the CSV data at `path` (none when it holds no CSV file), one line each naming the file
    and the field or line."""
    path = Path(path)
    files = csv_files(path)
    if not files:
        return []
    candidates = target_candidates(objective)
    tables = [_read_table(f, candidates) for f in files]
    out = [p for t in tables for p in t.problems]
    readable = [t for t in tables if t.columns]
    largest = max(readable, key=lambda t: t.rows, default=None)
    if largest is not None and 0 < largest.rows < MIN_ROWS:
        out.append(f"{largest.path}: only {largest.rows} data row(s); a model fit on some rows and scored on others "
                   f"needs at least {MIN_ROWS}")
    if not candidates or not readable:
        return out
    target = next((name for name in candidates if any(name in t.columns for t in readable)), None)
    if target is None:
        return out + [_missing_target(config_path, path, candidates[0], readable)]
    return out + _target_problems(objective, target, readable)

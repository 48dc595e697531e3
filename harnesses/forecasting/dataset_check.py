"""A dataset folder in the GluonTS layout, checked before a campaign starts on it (alphalab.input_checks).

load_dataset reads it through GluonTS, which names no file or line when an entry is bad (a missing `start` is a
bare KeyError) and accepts some inputs the evaluation cannot score (an all-NaN target, a test file with no series,
an entry whose own freq contradicts metadata.json, which GluonTS silently overrides). Here each JSON lines file is
read line by line with the parser GluonTS uses, so every problem names its file and line. What needs the whole
split in memory (test entries nested per series, no target overlap) stays with load_dataset's checks.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path

import numpy as np
from gluonts import json
from pandas.tseries.frequencies import to_offset
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# what gluonts.dataset.jsonl.JsonLinesFile reads (importing it costs a second)
JSON_LINES = (".json", ".json.gz", ".jsonl", ".jsonl.gz")
SPLITS = ("train", "test")
PER_FILE = 10  # problems listed per file; a dataset broken throughout would otherwise print one line per series


class Metadata(BaseModel):
    """The fields of metadata.json that the harness reads; GluonTS's other fields pass through."""

    model_config = ConfigDict(extra="allow")

    freq: str
    prediction_length: int = Field(gt=0)


def _offset(freq: str):
    # GluonTS's own datasets spell some frequencies in aliases pandas deprecates ('H', 'M') but still reads
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            return to_offset(freq)
        except ValueError:
            return None


def _files(split: Path) -> list[Path]:
    # as GluonTS's FileDataset: files up to two folders deep, hidden ones skipped
    return sorted(p for p in split.rglob("*") if p.is_file() and len(p.relative_to(split).parts) <= 3
                  and not any(part.startswith(".") for part in p.relative_to(split).parts))


def _entry_problems(entry: object, meta: Metadata, test: bool) -> list[str]:
    if not isinstance(entry, dict):
        return ["is not a JSON object"]
    name = f"series {str(entry['item_id'])!r}" if entry.get("item_id") is not None else "the series"
    out = []
    if entry.get("start") is None:
        out.append(f"{name} has no 'start'")
    if "freq" in entry and _offset(str(entry["freq"])) != _offset(meta.freq):
        out.append(f"{name} has freq {entry['freq']!r}, metadata.json has {meta.freq!r}")
    if entry.get("target") is None:
        return out + [f"{name} has no 'target'"]
    try:
        target = np.asarray(entry["target"], dtype=np.float64)
    except (TypeError, ValueError):
        return out + [f"{name}: 'target' is not a list of numbers"]
    if target.ndim != 1:
        return out + [f"{name}: 'target' is not a list of numbers"]
    if not np.isfinite(target).any():
        out.append(f"{name}: 'target' is empty or all NaN")
    elif test and len(target) <= meta.prediction_length:
        out.append(f"{name}: 'target' has {len(target)} values, a test entry needs more than prediction_length="
                   f"{meta.prediction_length} (a context before its forecast window)")
    return out


def _file_problems(path: Path, meta: Metadata, test: bool) -> tuple[int, list[str]]:
    """The number of entries in a JSON lines file, and its problems."""
    n, out = 0, []
    with (gzip.open(path) if path.suffix == ".gz" else open(path, "rb")) as f:
        for n, line in enumerate(f, start=1):
            try:
                found = _entry_problems(json.loads(line), meta, test)
            except ValueError as e:
                found = [f"not valid JSON ({e})"]
            out += [f"{path} line {n}: {p}" for p in found]
    if len(out) > PER_FILE:
        out = out[:PER_FILE] + [f"{path}: {len(out) - PER_FILE} more problem(s) like these"]
    return n, out


def check_dataset(path: Path) -> list[str]:
    """Every problem with the dataset folder at `path`, one line each naming the file and the field or line."""
    path = Path(path)
    meta_file = path / "metadata.json"
    if not meta_file.is_file():
        return [f"{path}: not a GluonTS dataset folder: it needs metadata.json, train/ and test/"]
    try:
        meta = Metadata.model_validate_json(meta_file.read_bytes())
    except ValidationError as e:
        return [f"{meta_file}: field `{'.'.join(str(x) for x in err['loc']) or '(top level)'}`: {err['msg']}"
                for err in e.errors()]
    if _offset(meta.freq) is None:
        return [f"{meta_file}: field `freq`: {meta.freq!r} is not a pandas frequency (e.g. 'h', 'D', 'W', 'M')"]
    out = []
    for split in SPLITS:
        folder = path / split
        files = _files(folder) if folder.is_dir() else []
        if not files:
            out.append(f"{folder}: no data files (the {split} split is missing or empty)")
            continue
        counted = [_file_problems(f, meta, split == "test") for f in files if "".join(f.suffixes) in JSON_LINES]
        out += [p for _, found in counted for p in found]
        if len(counted) == len(files) and sum(n for n, _ in counted) == 0:
            out.append(f"{folder}: no series (its data files are empty)")
    return out

"""Datasets in the GluonTS on-disk layout (`metadata.json`, `train/`, `test/`) and their rolling-window split.

The test split holds, for every series, one entry per rolling window: the series up to the end of that window's
target. Each entry becomes one evaluation instance: context = entry[:-H], target = entry[-H:]. The split is checked
here, once: entries of a series are nested prefixes of each other, the training series ends before the first target
window starts, and no context overlaps its target.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from harnesses.base.errors import EvaluationFailure


class DatasetNotFound(EvaluationFailure):
    def __init__(self, message: str):
        super().__init__("dataset_not_found", message)


class DatasetMeta(BaseModel):
    name: str
    source: str
    freq: str
    prediction_length: int
    n_series: int
    windows: int = 0  # rolling windows of the series that has the most
    n_instances: int  # test entries on disk: the count a full evaluation must reach
    min_length: int
    max_length: int
    fingerprint: str


@dataclass
class ForecastData:
    """The whole dataset as the harness holds it. `values[s]` is series s up to the end of its last target window."""

    meta: DatasetMeta
    item_ids: list[str]
    starts: list[str]
    values: list[np.ndarray]  # float32 per series
    train_len: np.ndarray  # int64 per series: train[s] == values[s][:train_len[s]]
    inst_series: np.ndarray  # int64 per instance
    inst_window: np.ndarray  # int64 per instance: rank of the window within its series (0 = earliest)
    inst_cutoff: np.ndarray  # int64 per instance: context = values[s][:cutoff], target = values[s][cutoff:cutoff+H]

    def train(self, s: int) -> np.ndarray:
        return self.values[s][: self.train_len[s]]

    def context(self, i: int) -> np.ndarray:
        return self.values[self.inst_series[i]][: self.inst_cutoff[i]]

    def targets(self, idx: np.ndarray) -> np.ndarray:
        H = self.meta.prediction_length
        return np.stack([self.values[s][c: c + H] for s, c in zip(self.inst_series[idx], self.inst_cutoff[idx])])


def _how_to_obtain(name: str, expected: Path) -> str:
    return (
        f"dataset {name!r} is not on disk. Provide the folder {expected} (GluonTS layout: metadata.json, train/, "
        f"test/) or pass its path as the campaign's data_path / --data. To obtain it, on a machine with internet run "
        f"`python -c \"from gluonts.dataset.repository import get_dataset; get_dataset('{name}')\"` and copy "
        f"~/.gluonts/datasets/{name}/ here."
    )


def resolve_dataset(spec: str | Path) -> Path:
    """A folder in the GluonTS layout, or the name of a GluonTS repository dataset cached under ~/.gluonts/datasets."""
    from gluonts.dataset.repository.datasets import dataset_recipes, default_dataset_path

    path = Path(spec).expanduser()
    if (path / "metadata.json").is_file():
        return path.resolve()
    if path.is_dir():
        if path.name in dataset_recipes:
            raise DatasetNotFound(_how_to_obtain(path.name, path))
        raise DatasetNotFound(f"{path} is not a GluonTS dataset folder: it needs metadata.json, train/ and test/")
    name = str(spec)
    if name in dataset_recipes:
        cached = default_dataset_path / name
        if (cached / "metadata.json").is_file():
            return cached
        raise DatasetNotFound(_how_to_obtain(name, cached))
    raise DatasetNotFound(f"dataset path does not exist: {path}")


def fingerprint(path: Path) -> str:
    """Changes when any file of the dataset changes (size or mtime), so a stale cache is never used."""
    h = hashlib.sha256(str(path.resolve()).encode())
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _load_gluonts(path: Path):
    """Read through GluonTS: `get_dataset` for a repository dataset (its folder exists, so nothing is downloaded),
    `load_datasets` for any other folder in the same layout."""
    from gluonts.dataset.common import load_datasets
    from gluonts.dataset.repository import get_dataset
    from gluonts.dataset.repository.datasets import dataset_recipes

    if path.name in dataset_recipes:
        return get_dataset(path.name, path=path.parent, regenerate=False)
    return load_datasets(metadata=path, train=path / "train", test=path / "test")


def _key(entry: dict, index: int, n_train: int) -> str:
    if entry.get("item_id") is not None:
        return str(entry["item_id"])
    cat = entry.get("feat_static_cat")
    if cat is not None and len(cat):
        return "cat:" + ",".join(str(int(c)) for c in np.atleast_1d(cat))
    return f"#{index % n_train}"


def load_dataset(path: Path) -> ForecastData:
    path = resolve_dataset(path)
    ds = _load_gluonts(path)
    H = int(ds.metadata.prediction_length)
    if ds.test is None:
        raise EvaluationFailure("dataset_invalid", f"{path}: no test/ split")
    train_entries = list(ds.train)
    n = len(train_entries)
    keys = [_key(e, i, n) for i, e in enumerate(train_entries)]
    if len(set(keys)) != n:
        raise EvaluationFailure("dataset_invalid", f"{path}: train series ids are not unique")
    index = {k: i for i, k in enumerate(keys)}
    by_series: list[list[np.ndarray]] = [[] for _ in range(n)]
    n_test = 0
    for j, e in enumerate(ds.test):
        k = _key(e, j, n)
        if k not in index:
            raise EvaluationFailure("dataset_invalid", f"{path}: test entry {j} (id {k}) has no training series")
        by_series[index[k]].append(np.asarray(e["target"], dtype=np.float32))
        n_test += 1
    values, train_len, inst = [], [], []
    for s, (tr, entries) in enumerate(zip(train_entries, by_series)):
        train = np.asarray(tr["target"], dtype=np.float32)
        entries.sort(key=len)
        full = entries[-1] if entries else train
        if any(not np.array_equal(e, full[: len(e)], equal_nan=True) for e in entries):
            raise EvaluationFailure("dataset_invalid",
                                    f"{path}: test entries of series {keys[s]} are not prefixes of each other")
        # a training series longer than its test entries is caught as an overlap by check_split
        if len(train) <= len(full) and not np.array_equal(train, full[: len(train)], equal_nan=True):
            raise EvaluationFailure("dataset_invalid", f"{path}: series {keys[s]}: train is not a prefix of test")
        values.append(full)
        train_len.append(len(train))
        inst += [(s, w, len(e) - H) for w, e in enumerate(entries)]
    arr = np.asarray(inst, dtype=np.int64).reshape(-1, 3)
    lengths = [len(v) for v in values]
    meta = DatasetMeta(
        name=path.name, source=str(path), freq=str(ds.metadata.freq), prediction_length=H, n_series=n,
        windows=max((len(b) for b in by_series), default=0), n_instances=n_test, min_length=min(lengths),
        max_length=max(lengths), fingerprint=fingerprint(path),
    )
    data = ForecastData(meta=meta, item_ids=keys, starts=[str(e["start"]) for e in train_entries], values=values,
                        train_len=np.asarray(train_len, dtype=np.int64), inst_series=arr[:, 0], inst_window=arr[:, 1],
                        inst_cutoff=arr[:, 2])
    check_split(data)
    return data


def check_split(data: ForecastData) -> None:
    """The evaluation's integrity conditions, checked on every load (also from the cache)."""
    H = data.meta.prediction_length
    if len(data.inst_cutoff) != data.meta.n_instances:
        raise EvaluationFailure("instance_count", f"split has {len(data.inst_cutoff)} instances, the test split on "
                                f"disk has {data.meta.n_instances}")
    for s, w, c in zip(data.inst_series, data.inst_window, data.inst_cutoff):
        if c + H > len(data.values[s]):
            raise EvaluationFailure("dataset_invalid", f"series {data.item_ids[s]} window {w}: target window "
                                    f"[{c}, {c + H}) runs past the end of the series")
        if data.train_len[s] > c:
            raise EvaluationFailure("target_overlap", f"series {data.item_ids[s]} window {w}: training data "
                                    f"(length {data.train_len[s]}) reaches into the target window starting at {c}")

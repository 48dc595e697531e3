"""The prepared dataset, cached in the workspace's `.private/` (never visible to experiment code).

Parsing a large JSON dataset takes a while; a full evaluation then only loads one .npz. The cache key is the dataset
folder's fingerprint, so an edited dataset is prepared again.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from alphalab.workspace import Workspace
from harnesses.forecasting.data import (
    DatasetMeta, ForecastData, check_split, fingerprint, load_dataset, resolve_dataset,
)
from harnesses.forecasting.ragged import pack, unpack


def cache_dir(workspace: Workspace) -> Path:
    return workspace.private / "forecasting"


def prepared(workspace: Workspace, data_path: Path) -> ForecastData:
    path = resolve_dataset(data_path)
    key = fingerprint(path)
    base = cache_dir(workspace) / key
    if (base / "meta.json").is_file():
        data = _read(base)
        check_split(data)
        return data
    data = load_dataset(path)
    _write(base, data)
    return data


def _write(base: Path, data: ForecastData) -> None:
    tmp = base.with_name(base.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    flat, offsets = pack(data.values)
    np.savez(tmp / "data.npz", flat=flat, offsets=offsets, train_len=data.train_len, inst_series=data.inst_series,
             inst_window=data.inst_window, inst_cutoff=data.inst_cutoff,
             item_ids=np.asarray(data.item_ids), starts=np.asarray(data.starts))
    (tmp / "meta.json").write_text(data.meta.model_dump_json(indent=2))
    try:
        tmp.rename(base)
    except OSError:  # another harness prepared it first: theirs is as good
        shutil.rmtree(tmp, ignore_errors=True)


def _read(base: Path) -> ForecastData:
    meta = DatasetMeta.model_validate_json((base / "meta.json").read_text())
    with np.load(base / "data.npz") as z:
        return ForecastData(meta=meta, item_ids=[str(x) for x in z["item_ids"]], starts=[str(x) for x in z["starts"]],
                            values=unpack(z["flat"], z["offsets"]), train_len=z["train_len"],
                            inst_series=z["inst_series"], inst_window=z["inst_window"], inst_cutoff=z["inst_cutoff"])

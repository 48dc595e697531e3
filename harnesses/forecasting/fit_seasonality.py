"""Phase 0's fit of a time-series manifest to its dataset's season:

    python -P -m harnesses.forecasting.fit_seasonality --data DATA --manifest MANIFEST

prints one JSON object, {"manifest": TEXT, "reason": LINE}: the manifest with `seasonality` set to the dataset's
season (an explicit one is kept: it wins), the seasonal-naive choices of its search space named for the dataset's
periods (seasonal_naive_24 and seasonal_naive_168 on hourly data, seasonal_naive_12 on monthly) and its trivial
baseline seasonal naive at the season. Every other line is
left as written, comments included. The customizer (alphalab/roles/customizer.py) runs it in its own process, as the
core runs every harness, and commits the result. An unknown freq exits 2 with a message naming the field.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml
from alphalab.manifest import FittedManifest, Manifest
from harnesses.base.errors import EvaluationFailure
from harnesses.forecasting.baselines import seasonal_naive_name
from harnesses.forecasting.seasonality import dataset_freq, dataset_periods

_CHOICES = re.compile(r"(choices:\s*\[)([^\]]*)(\])")
_SEASONAL_NAIVE_RUN = re.compile(r"seasonal_naive_\d+(?:\s*,\s*seasonal_naive_\d+)*")
_SEASONALITY_LINE = re.compile(r"^seasonality:.*$", re.MULTILINE)
_BASELINE_LINE = re.compile(r"^trivial_baseline:.*$", re.MULTILINE)


def baseline_line(period: int) -> str:
    """The manifest's trivial baseline: seasonal naive at the dataset's season."""
    name = seasonal_naive_name(period)
    return f'trivial_baseline: {{label: "seasonal naive ({period})", params: {{model: {name}}}}}'


def _fit_choices(text: str, names: Sequence[str]) -> str:
    """Within each `choices: [...]`, the seasonal-naive names (one run of them) become `names`."""
    def fit(m: re.Match) -> str:
        return m.group(1) + _SEASONAL_NAIVE_RUN.sub(", ".join(names), m.group(2), count=1) + m.group(3)

    return _CHOICES.sub(fit, text)


def fit_manifest(text: str, data: str | Path) -> FittedManifest:
    manifest = Manifest.model_validate(yaml.safe_load(text))
    periods = dataset_periods(data, manifest.seasonality)
    names = [seasonal_naive_name(m) for m in periods]
    fitted = _fit_choices(text, names)
    line = f"seasonality: {periods[0]}"
    if _SEASONALITY_LINE.search(fitted):
        fitted = _SEASONALITY_LINE.sub(line, fitted)
    else:
        fitted = fitted.rstrip("\n") + f"\n{line}\n"
    fitted = _BASELINE_LINE.sub(baseline_line(periods[0]), fitted)
    source = "the manifest's own" if manifest.seasonality else f"the season of the data's freq {dataset_freq(data)!r}"
    return FittedManifest(manifest=fitted, reason=f"phase 0: seasonality {periods[0]} ({source}); seasonal-naive "
                                                  f"baselines {', '.join(names)}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="the dataset (GluonTS layout) or a cached repository dataset name")
    p.add_argument("--manifest", type=Path, required=True, help="the manifest.yaml to fit")
    args = p.parse_args(argv)
    try:
        print(fit_manifest(args.manifest.read_text(), args.data).model_dump_json())
    except EvaluationFailure as e:
        print(e.message, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The adapter manifest (`manifest.yaml`): metrics, experiment structure, eval modes, search space.

This schema is the contract between an adapter, its harness, Phase 3 and the baseline policies.
"""

from __future__ import annotations

import re
import string
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# the run's own values, then the campaign's (filled from alphalab.harness_inputs.HarnessInputs)
PLACEHOLDERS = frozenset({"python", "workspace", "harness", "exp_dir", "mode", "seed",
                          "data", "sandbox", "network", "time_limit", "options", "campaign_seed"})
_SHELL = re.compile(r"[;&|<>`$\n\\]|(^|\s)cd(\s|$)")
_MODULE = re.compile(r"^(harnesses\.([A-Za-z_]\w*)|harness)(\.[A-Za-z_]\w*)+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Metric(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    direction: Literal["min", "max"]
    primary: bool = False
    description: str = ""


class ExperimentSpec(_Strict):
    """How one experiment is laid out and run.

    The two commands start the trusted harness, never experiment code: `{python} -P -m harnesses.<name>.<module>`
    (a built-in harness) or `{python} -P -m harness.<module>` (the workspace's harness/), then arguments. The runner
    runs them with the workspace as working directory, and `-P` keeps that off `sys.path`, so no file an experiment
    or agent writes can stand in for a harness module. Placeholders: {python} (the interpreter), {workspace},
    {harness} (the workspace's harness/), {exp_dir}, {mode} (smoke|full), {seed}; and the campaign's, which a harness
    takes as arguments instead of reading the campaign config: {data} (data_path), {sandbox} (sandbox.mode: auto,
    none or bwrap), {network} (on|off: sandbox.allow_network), {time_limit} (seconds a run in this mode may take),
    {options} (domain_options as one JSON object), {campaign_seed} (the campaign's seed).
    """

    entry_point: str = Field(description="the file a Worker must produce that the harness runs, e.g. strategy.py")
    required_files: list[str] = Field(min_length=1)
    template_dir: str | None = Field(
        None, description="adapter-relative folder of jinja2 files the baseline Worker renders")
    smoke_command: str
    full_command: str
    time_limit_s: float = Field(gt=0)
    smoke_time_limit_s: float = Field(120.0, gt=0)
    gpus_per_experiment: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _entry_required(self) -> "ExperimentSpec":
        if self.entry_point not in self.required_files:
            raise ValueError(f"entry_point {self.entry_point!r} must be listed in required_files")
        for name in ("smoke_command", "full_command"):
            harness_module(name, getattr(self, name))
        return self


def harness_module(field: str, command: str) -> str:
    """The module a manifest command runs; ValueError naming the field when the command breaks the contract."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(command) if f is not None}
    except ValueError as e:
        raise ValueError(f"{field}: not a valid format string: {e}") from None
    if names - PLACEHOLDERS:
        raise ValueError(f"{field}: unknown placeholders {sorted(names - PLACEHOLDERS)} "
                         f"(known: {', '.join(sorted(PLACEHOLDERS))})")
    if _SHELL.search(command):
        raise ValueError(f"{field}: must be a single command without shell syntax (no ;, &&, |, redirections, "
                         "$, cd): the runner runs it in the workspace")
    tokens = command.split()
    if tokens[:3] != ["{python}", "-P", "-m"] or len(tokens) < 4 or not _MODULE.match(tokens[3]):
        raise ValueError(f"{field}: must start with `{{python}} -P -m harnesses.<name>.<module>` or "
                         f"`{{python}} -P -m harness.<module>` (the trusted harness, with -P so nothing in the "
                         f"working directory can replace it); got {command!r}")
    missing = {"exp_dir", "mode"} - names
    if missing:
        raise ValueError(f"{field}: must pass {', '.join('{' + m + '}' for m in sorted(missing))} to the harness")
    return tokens[3]


class SearchParam(_Strict):
    name: str
    type: Literal["categorical", "int", "float"]
    choices: list[str | int | float | bool] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False

    @model_validator(mode="after")
    def _shape(self) -> "SearchParam":
        if self.type == "categorical" and not self.choices:
            raise ValueError(f"categorical param {self.name!r} needs `choices`")
        if self.type in ("int", "float"):
            if self.low is None or self.high is None:
                raise ValueError(f"{self.type} param {self.name!r} needs `low` and `high`")
            if self.low > self.high:
                raise ValueError(f"param {self.name!r}: low > high")
        return self


class SearchSpace(_Strict):
    params: list[SearchParam] = Field(min_length=1)
    # the reference configuration: the first experiment and the noise-floor measurement use it
    reference: dict[str, str | int | float | bool] = Field(default_factory=dict)
    # overrides applied by the baseline fix Worker after a failure (e.g. a smaller batch)
    fallback: dict[str, str | int | float | bool] = Field(default_factory=dict)

    def reference_params(self) -> dict[str, str | int | float | bool]:
        """The reference, completed with each missing parameter's first choice or low end."""
        out = dict(self.reference)
        for p in self.params:
            if p.name not in out:
                out[p.name] = p.choices[0] if p.type == "categorical" else (int(p.low) if p.type == "int" else p.low)
        return out

    @model_validator(mode="after")
    def _known(self) -> "SearchSpace":
        names = {p.name for p in self.params}
        for section in ("reference", "fallback"):
            unknown = set(getattr(self, section)) - names
            if unknown:
                raise ValueError(f"{section} names unknown params: {sorted(unknown)}")
        return self


class TrivialBaseline(_Strict):
    """The domain's trivial baseline, which every leaderboard row is read against beside the noise floor."""

    label: str = Field(min_length=1, description="what it is, e.g. `seasonal naive (24)` or `eager PyTorch`")
    params: dict[str, str | int | float | bool] | None = Field(
        None, description="the template's params that build it (run once with the noise floor); with neither this "
                          "nor `ratio`, the search space's reference is the baseline itself (the noise floor's mean)")
    ratio: tuple[str, str] | None = Field(
        None, description="metrics a and b every run records: the baseline's value is the mean of a / b over the "
                          "noise floor's runs (kernels: eager PyTorch's speedup_vs_compile is compile_ms / eager_ms)")

    @model_validator(mode="after")
    def _one_source(self) -> "TrivialBaseline":
        if self.params is not None and self.ratio is not None:
            raise ValueError("give params (a run of its own) or ratio (from the noise floor's runs), not both")
        return self


class FittedManifest(BaseModel):
    """What a built-in harness's fit of the manifest to the data prints (harnesses/<name>/fit_seasonality.py): the
    whole fitted manifest and the one-line reason for its commit."""

    manifest: str
    reason: str


class Manifest(_Strict):
    name: str
    description: str = ""
    metrics: list[Metric] = Field(min_length=1)
    experiment: ExperimentSpec
    eval_modes: list[Literal["smoke", "full"]] = Field(default_factory=lambda: ["smoke", "full"])
    search_space: SearchSpace | None = None
    exploration_script: str | None = Field(None, description="adapter-relative script the baseline Explorer runs")
    harness: str | None = Field(None, description="name of a built-in trusted harness under harnesses/")
    seasonality: int | None = None
    trivial_baseline: TrivialBaseline | None = None
    options: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_primary(self) -> "Manifest":
        primaries = [m.name for m in self.metrics if m.primary]
        if len(primaries) != 1:
            raise ValueError(f"exactly one metric must be primary (found {len(primaries)}: {primaries})")
        return self

    @model_validator(mode="after")
    def _own_harness(self) -> "Manifest":
        for field in ("smoke_command", "full_command"):
            module = harness_module(field, getattr(self.experiment, field))
            builtin = _MODULE.match(module).group(2)
            if builtin is not None and builtin != self.harness:
                raise ValueError(f"experiment.{field} runs the built-in harness {builtin!r}, but the manifest's "
                                 f"`harness` is {self.harness!r}" + ("" if self.harness else
                                                                     " (a generated domain runs `harness.<module>`)"))
        return self

    @property
    def primary(self) -> Metric:
        return next(m for m in self.metrics if m.primary)

"""The adapter manifest (`manifest.yaml`): metrics, experiment structure, eval modes, search space.

This schema is the contract between an adapter, its harness, Phase 3 and the baseline policies.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alphalab.harness_contract import cite

# what a manifest command may pass its harness: the run's own values, then the campaign's (filled from
# alphalab.harness_inputs.HarnessInputs), which a harness takes as arguments instead of reading the campaign config
PLACEHOLDERS: dict[str, str] = {
    "python": "the interpreter running alphalab",
    "workspace": "the campaign workspace",
    "harness": "the workspace's harness/ folder",
    "exp_dir": "the experiment folder (the only path its code may write)",
    "mode": "smoke or full",
    "seed": "the run's seed",
    "data": "the campaign's data_path",
    "sandbox": "how the harness isolates the experiment process: auto, none or bwrap (sandbox.mode)",
    "network": "on or off: network for the sandboxed experiment (sandbox.allow_network)",
    "time_limit": "seconds a run in this mode may take",
    "options": "the campaign's domain_options as one JSON object",
    "campaign_seed": "the campaign's seed, for a split fixed once per campaign",
}
_SHELL = re.compile(r"[;&|<>`$\n\\]|(^|\s)cd(\s|$)")
_MODULE = re.compile(r"^(harnesses\.([A-Za-z_]\w*)|harness)(\.[A-Za-z_]\w*)+$")
# the spec key of an experiment that needs code its template does not have: what to build, in words
BEYOND_TEMPLATE = "beyond_template"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Metric(_Strict):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    direction: Literal["min", "max"]
    primary: bool = False
    description: str = ""


class ExperimentSpec(_Strict):
    """How one experiment is laid out and run: the commands follow the manifest-harness contract
    (harnesses/base/CONTRACT.md; its placeholders are PLACEHOLDERS above)."""

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
        scripts = {Path(f).stem: f for f in self.required_files if f.endswith(".py")}
        for name in ("smoke_command", "full_command"):
            module = harness_module(name, getattr(self, name))
            # the harness runs the experiment's code and writes its metrics: a command that runs that code itself
            # records none, and the run scores as a result
            if (own := scripts.get(module.rsplit(".", 1)[-1])) is not None:
                raise ValueError(f"{name}: runs `{module}`, named like the experiment's own {own}: the command must "
                                 f"run the harness's evaluator, which runs the experiment and records its metrics "
                                 f"{cite(4)}")
        return self


def harness_module(field: str, command: str) -> str:
    """The module a manifest command runs; ValueError naming the field when the command breaks the contract."""
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(command) if f is not None}
    except ValueError as e:
        raise ValueError(f"{field}: not a valid format string: {e} {cite(3)}") from None
    if unknown := names - set(PLACEHOLDERS):
        raise ValueError(f"{field}: unknown placeholders {sorted(unknown)} "
                         f"(known: {', '.join(sorted(PLACEHOLDERS))}) {cite(3)}")
    if _SHELL.search(command):
        raise ValueError(f"{field}: must be a single command without shell syntax (no ;, &&, |, redirections, "
                         f"$, cd): the runner runs it in the workspace {cite(1)}")
    tokens = command.split()
    if tokens[:3] != ["{python}", "-P", "-m"] or len(tokens) < 4 or not _MODULE.match(tokens[3]):
        raise ValueError(f"{field}: must start with `{{python}} -P -m harnesses.<name>.<module>` or "
                         f"`{{python}} -P -m harness.<module>` (the trusted harness, with -P so nothing in the "
                         f"working directory can replace it); got {command!r} {cite(1)}")
    missing = {"exp_dir", "mode"} - names
    if missing:
        raise ValueError(f"{field}: must pass {', '.join('{' + m + '}' for m in sorted(missing))} to the harness "
                         f"{cite(3)}")
    return tokens[3]


Value = str | int | float | bool


def _num(x: float) -> str:
    return f"{x:g}"


def _same(a: Any, b: Any) -> bool:
    """Equal as a search-space value: 1 is 1.0, but True is not 1 and "1" is not 1."""
    if any(isinstance(v, (bool, str)) for v in (a, b)):
        return type(a) is type(b) and a == b
    return a == b


class SearchParam(_Strict):
    name: str
    type: Literal["categorical", "int", "float"]
    choices: list[Value] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False

    def allowed(self) -> str:
        """What this parameter takes, in words."""
        if self.type == "categorical":
            return "one of " + ", ".join(str(c) for c in self.choices)
        kind = "an integer" if self.type == "int" else "a number"
        return f"{kind} from {_num(self.low)} to {_num(self.high)}" + (", log scale" if self.log else "")

    def coerce(self, value: Any) -> Value:
        """`value` as this parameter's own type (the matching choice, an int, a float); ValueError naming the
        parameter and what it allows when it is not one of its values."""
        if self.type == "categorical":
            match = next((c for c in self.choices if _same(c, value)), None)
            if match is None:
                raise ValueError(f"`{self.name}`: {value!r} is not {self.allowed()}")
            return match
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                self.type == "int" and not float(value).is_integer()):
            raise ValueError(f"`{self.name}`: {value!r} is not {self.allowed()}")
        number = int(value) if self.type == "int" else float(value)
        if not self.low <= number <= self.high:
            raise ValueError(f"`{self.name}`: {value!r} is outside its range ({self.allowed()})")
        return number

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
    reference: dict[str, Value] = Field(default_factory=dict)
    # overrides applied by the baseline fix Worker after a failure (e.g. a smaller batch)
    fallback: dict[str, Value] = Field(default_factory=dict)

    def reference_params(self) -> dict[str, Value]:
        """The reference, completed with each missing parameter's first choice or low end."""
        out = dict(self.reference)
        for p in self.params:
            if p.name not in out:
                out[p.name] = p.choices[0] if p.type == "categorical" else (int(p.low) if p.type == "int" else p.low)
        return out

    def checked(self, params: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Value]:
        """A whole configuration: `params` over `base` (a parent's params), over the reference, each value in its
        parameter's own type; ValueError naming every unknown or invalid parameter and what it allows."""
        by_name = {p.name: p for p in self.params}
        unknown = sorted(set(params) - set(by_name))
        problems = [f"unknown params {unknown}; the search space has {list(by_name)}"] if unknown else []
        given = self.reference_params() | {k: v for k, v in (base or {}).items() if k in by_name} | params
        out: dict[str, Value] = {}
        for name, p in by_name.items():
            try:
                out[name] = p.coerce(given[name])
            except ValueError as e:
                problems.append(str(e))
        if problems:
            raise ValueError("; ".join(problems))
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
    params: dict[str, Value] | None = Field(
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
    options: dict[str, Value] = Field(default_factory=dict)

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

    def search_space_text(self) -> str:
        """What an experiment can be built from, for the Strategist: the experiment template, every parameter with
        its range or choices, and the reference configuration."""
        exp, space = self.experiment, self.search_space
        files = ", ".join(f"`{f}`" for f in exp.required_files)
        if exp.template_dir:
            lines = [f"The experiment template (the adapter's `{exp.template_dir}/`) builds {files} from the "
                     "parameters below (`spec.params`): they are all a Worker changes, unless the spec's "
                     f"`{BEYOND_TEMPLATE}` asks for code the template does not have."]
        else:
            lines = [f"There is no experiment template: a Worker writes {files} from the spec."]
        if space is None:
            return "\n".join(lines + ["There is no search space: describe each experiment fully in its spec."])
        lines += [f"- `{p.name}`: {p.allowed()}" for p in space.params]
        reference = ", ".join(f"{k}={v}" for k, v in space.reference_params().items())
        lines += [f"Reference configuration (the noise floor measures it over several seeds): {reference}.",
                  "Parameters a proposal leaves out take its parent's values, or the reference's without a parent."]
        return "\n".join(lines)

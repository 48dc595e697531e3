"""Campaign configuration: one pydantic model loaded from a campaign YAML.

Every field is validated, unknown keys are rejected, and every error names the file and the field.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from alphalab.errors import ConfigError
from alphalab.sandbox import SandboxConfig  # defined there so harnesses need not import this module

ProviderName = Literal["openai", "anthropic", "openai-compatible", "scripted", "baseline"]
RoleName = Literal[
    "customizer", "generator", "explorer", "builder", "critic", "tester",
    "strategist", "worker", "supervisor", "reporter",
]
ROLES: tuple[str, ...] = RoleName.__args__  # type: ignore[attr-defined]
BUILTIN_DOMAINS = ("time_series", "cuda_kernel", "llm_speedrun")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSettings(Strict):
    """Which model a role uses. `baseline` means the deterministic no-LLM policy."""

    provider: ProviderName = "baseline"
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = Field(None, description="name of the env var holding the API key")
    temperature: float | None = Field(None, ge=0, le=2)
    max_output_tokens: int = Field(4096, gt=0)
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    context_window: int = Field(200_000, gt=1000)
    # for provider=scripted: a YAML/JSON file with the queued responses (tests and demos)
    script: Path | None = None

    @model_validator(mode="after")
    def _needs_model(self) -> "ModelSettings":
        if self.provider in ("openai", "anthropic", "openai-compatible") and not self.model:
            raise ValueError(f"provider {self.provider!r} needs a `model`")
        if self.provider == "openai-compatible" and not self.base_url:
            raise ValueError("provider 'openai-compatible' needs a `base_url`")
        return self

    def default_key_env(self) -> str | None:
        if self.api_key_env:
            return self.api_key_env
        return {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}.get(self.provider)


class ModelsConfig(Strict):
    """A default model plus optional per-role overrides."""

    default: ModelSettings = ModelSettings()
    roles: dict[RoleName, ModelSettings] = Field(default_factory=dict)

    def for_role(self, role: str) -> ModelSettings:
        return self.roles.get(role, self.default)  # type: ignore[arg-type]


class Price(Strict):
    input: float = Field(ge=0, description="USD per million input tokens")
    cached_input: float = Field(ge=0, description="USD per million input tokens read from the prompt cache")
    cache_write: float | None = Field(None, ge=0, description="USD per million input tokens written to the prompt "
                                      "cache; unset: the input price (no surcharge, as on OpenAI)")
    output: float = Field(ge=0)


class Budgets(Strict):
    experiments: int = Field(50, ge=1)
    usd: float = Field(100.0, ge=0)
    wall_clock_hours: float = Field(48.0, gt=0)


class AgentLimits(Strict):
    max_steps: int = Field(60, ge=1)
    max_tokens: int = Field(2_000_000, ge=1)
    max_usd: float = Field(10.0, ge=0)
    max_wall_seconds: float = Field(3600.0, gt=0)
    tool_output_chars: int = Field(12_000, ge=200)
    shell_timeout_s: float = Field(600.0, gt=0)
    compact_at_fraction: float = Field(0.75, gt=0.1, le=1.0)


class ExecutionConfig(Strict):
    backend: Literal["local", "work-pool"] = "local"
    gpu_slots: list[str] = Field(default_factory=lambda: ["0"], min_length=1)
    work_pool: str = "alphalab-gpu"
    deployment: str = "run-experiment/run-experiment"
    experiment_timeout_s: float | None = Field(None, gt=0, description="overrides the manifest's time limit")


class WebSearchConfig(Strict):
    mode: Literal["none", "provider", "http"] = "none"
    url: str | None = None
    api_key_env: str | None = None

    @model_validator(mode="after")
    def _url(self) -> "WebSearchConfig":
        if self.mode == "http" and not self.url:
            raise ValueError("web_search mode 'http' needs a `url`")
        return self


class Phase2Config(Strict):
    max_rounds: int = Field(5, ge=1)


class Phase3Config(Strict):
    strategist_every: int = Field(5, ge=1)
    reporter_every: int = Field(15, ge=1)
    patience: int = Field(10, ge=1, description="stop after this many analyzed experiments without improvement")
    max_fix_attempts: int = Field(2, ge=0)
    supervisor_window: int = Field(10, ge=1)
    supervisor_threshold: float = Field(0.3, ge=0, le=1)
    all_dead_after: int = Field(4, ge=1, description="stop Phase 3 early once this many experiments died with not "
                                "one run to its end (a broken template or harness): the budget left would die too")
    proposals_per_turn: int = Field(4, ge=1)
    noise_seeds: int = Field(3, ge=0, description="full runs of the reference configuration, each with a fresh seed, "
                             "at the start of Phase 3 (apart from the experiment budget); 0 turns the noise floor off")
    # off for a deterministic harness, or when re-running the best costs too much
    verify_new_best: bool = Field(True, description="re-run each new best with fresh seeds before it is confirmed")
    verify_reruns: int = Field(5, ge=1, description="fresh-seed re-runs of a new best (alphalab.significance)")
    confirm_alpha: float = Field(0.025, gt=0, lt=0.5, description="a gain is confirmed when noise alone would give "
                                 "one as large with a probability below this (one-sided t-test)")
    playbook_max_chars: int = Field(6000, ge=500)


class CampaignConfig(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="lowercase, digits, dashes")
    domain: str = Field(min_length=1, description="built-in adapter name or free text")
    data_path: Path
    objective: str = Field(min_length=1)
    workspace: Path | None = None
    models: ModelsConfig = ModelsConfig()
    pricing: dict[str, Price] = Field(default_factory=dict)
    budgets: Budgets = Budgets()
    execution: ExecutionConfig = ExecutionConfig()
    sandbox: SandboxConfig = SandboxConfig()
    agent_limits: AgentLimits = AgentLimits()
    web_search: WebSearchConfig = WebSearchConfig()
    phase2: Phase2Config = Phase2Config()
    phase3: Phase3Config = Phase3Config()
    seed: int = 0
    # extra knobs passed to the adapter's templates and harness (e.g. the demo's epochs)
    domain_options: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("data_path")
    @classmethod
    def _exists(cls, v: Path) -> Path:
        if not v.exists():
            raise ValueError(f"data path does not exist: {v}")
        return v

    @property
    def is_builtin_domain(self) -> bool:
        return self.domain in BUILTIN_DOMAINS

    def workspace_dir(self) -> Path:
        return self.workspace if self.workspace is not None else Path("runs") / self.name

    def config_hash(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


def _format_errors(path: Path, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{path}: field `{loc}`: {msg}")
    return "\n".join(lines)


def load_config(path: str | Path) -> CampaignConfig:
    """Load and validate a campaign YAML. Relative paths resolve against the YAML's folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    base = path.parent.resolve()
    for key in ("data_path", "workspace"):
        if isinstance(raw.get(key), str) and not Path(raw[key]).is_absolute():
            raw[key] = str(base / raw[key])
    try:
        return CampaignConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_errors(path, e)) from None

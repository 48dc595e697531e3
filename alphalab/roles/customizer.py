"""Phase 0, customize path: copy the built-in adapter named by the domain, then fit it to the actual data.

LLM: the customizer samples the data (shell_exec, read_file) and patches adapter files (read_adapter,
patch_adapter_file), each patch a commit. Baseline: appends measured data facts to domain_knowledge.md as one
committed patch. Before either, a built-in harness that derives the season from the data fits the manifest's
seasonality to it (one commit).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from pydantic import BaseModel

from alphalab import adapters
from alphalab.errors import PhaseFailed
from alphalab.manifest import FittedManifest
from alphalab.roles.base import RoleContext
from alphalab.roles.llm import report_text, run_llm_role
from alphalab.roles.prompts import RolePrompt, message
from alphalab.tools import read_file, report_to_user, shell_exec
from alphalab.tools.adapter_tools import patch_adapter_file, read_adapter

ROLE = "customizer"
_SAMPLE_FILES = 5
# harnesses/<name>/fit_seasonality.py, where a built-in harness has one (forecasting: the season of the data's freq)
_SEASONALITY_FIT = "fit_seasonality"


class DataFacts(BaseModel):
    path: str
    is_dir: bool
    files: int
    total_bytes: int
    extensions: dict[str, int]
    sample: list[str]

    def markdown(self) -> str:
        kinds = ", ".join(f"{ext or '(none)'}: {n}" for ext, n in sorted(self.extensions.items()))
        lines = [
            "## Data facts (measured by Phase 0)",
            f"- data path: `{self.path}` ({'folder' if self.is_dir else 'file'})",
            f"- files: {self.files}, total size: {self.total_bytes:,} bytes ({self.total_bytes / 2**20:.1f} MiB)",
            f"- file types: {kinds}",
        ]
        if self.sample:
            lines.append("- sample files: " + ", ".join(f"`{s}`" for s in self.sample))
        return "\n".join(lines) + "\n"


def measure_data(path: Path) -> DataFacts:
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return DataFacts(
        path=str(path),
        is_dir=path.is_dir(),
        files=len(files),
        total_bytes=sum(p.stat().st_size for p in files),
        extensions=dict(Counter(p.suffix for p in files)),
        sample=[p.relative_to(path).as_posix() if path.is_dir() else p.name for p in files[:_SAMPLE_FILES]],
    )


def _fit_seasonality(ctx: RoleContext) -> None:
    """Set the manifest's seasonality (and the seasonal baselines it names) for this campaign's data, where the
    adapter's built-in harness knows the data's season. The harness works it out in its own process, as every
    harness runs (the core never imports one); the fitted manifest is validated before it is written."""
    ws = ctx.workspace
    harness = adapters.load_adapter(ws.adapter).manifest.harness
    if not harness or not (adapters.builtin_harness_dir(harness) / f"{_SEASONALITY_FIT}.py").is_file():
        return
    proc = subprocess.run(
        [sys.executable, "-P", "-m", f"harnesses.{harness}.{_SEASONALITY_FIT}",
         "--data", str(ctx.config.data_path.resolve()), "--manifest", str(ws.adapter / "manifest.yaml")],
        cwd=ws.root, capture_output=True, text=True, timeout=ctx.limits.shell_timeout_s)
    if proc.returncode != 0:
        raise PhaseFailed(f"Phase 0: fitting the manifest's seasonality to the data failed: {proc.stderr.strip()}")
    fitted = FittedManifest.model_validate_json(proc.stdout)
    adapters.write_file(ws, "manifest.yaml", fitted.manifest, fitted.reason)
    ctx.log(fitted.reason)


def _customize_baseline(ctx: RoleContext) -> str:
    facts = measure_data(ctx.config.data_path)
    adapters.patch_file(ctx.workspace, "domain_knowledge.md", "", "\n" + facts.markdown(),
                        f"phase 0 (baseline customizer): record measured data facts ({facts.files} files, "
                        f"{facts.total_bytes:,} bytes)")
    return facts.markdown()


def prompt(ctx: RoleContext, adapter: adapters.Adapter) -> RolePrompt:
    return RolePrompt(template="phase0_customizer.md", variables={"adapter_dir": str(adapter.root)}, task=message(
        f"The built-in {ctx.config.domain!r} adapter has been copied to {adapter.root}. Fit it to this campaign's "
        f"data at {ctx.config.data_path}: sample the data (file layout, columns, sizes, value ranges, quirks), "
        "then patch the adapter files with patch_adapter_file, above all domain_knowledge.md, so every later agent "
        "knows the facts you measured. Give each patch a one-line reason. Call report_to_user when done."))


def _customize_llm(ctx: RoleContext, adapter: adapters.Adapter) -> str:
    result = run_llm_role(
        ctx, ROLE, adapter=adapter, prompt=prompt(ctx, adapter),
        tools=[shell_exec, read_file, read_adapter, patch_adapter_file, report_to_user], label="run",
    )
    if not result.finished:
        ctx.log(f"customizer stopped before report_to_user ({result.reason}); keeping the patches it made")
    # shell commands may have edited files without patch_adapter_file: keep them, but as a commit of their own
    ctx.workspace.commit("phase 0: customizer edits made outside patch_adapter_file", ctx.workspace.adapter)
    return report_text(result) or f"stopped: {result.reason}"


def customize(ctx: RoleContext) -> adapters.ResolvedAdapter:
    """Copy the built-in adapter, customize it, and return it validated (AdapterError lists every problem)."""
    ws = ctx.workspace
    before = adapters.head_commit(ws)
    adapters.copy_builtin(ctx.config.domain, ws)
    _fit_seasonality(ctx)
    copied = adapters.load_adapter(ws.adapter)
    llm = ctx.uses_llm(ROLE)
    report = _customize_llm(ctx, copied) if llm else _customize_baseline(ctx)
    final = adapters.load_adapter(ws.adapter)
    return adapters.ResolvedAdapter(
        path="customize", adapter_dir=str(final.root), name=final.manifest.name,
        commits=adapters.adapter_commits_since(ws, before), report=report, baseline=not llm,
    )

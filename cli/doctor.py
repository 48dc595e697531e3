"""`alphalab doctor`: what this machine offers a campaign (versions, Prefect API, sandbox, provider keys, GPUs)."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess

from alphalab.workspace import package_versions

_KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check Python, packages, Prefect, sandbox, provider keys and GPUs")
    p.set_defaults(func=run)


def _prefect_api() -> str:
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return "ephemeral (no PREFECT_API_URL: a temporary local API starts with each run)"
    import httpx

    try:
        r = httpx.get(url.rstrip("/") + "/health", timeout=3)
        return f"{url} reachable (HTTP {r.status_code})"
    except httpx.HTTPError as e:
        return f"{url} NOT reachable: {e}"


def _gpus() -> str:
    if not shutil.which("nvidia-smi"):
        return "none visible (no nvidia-smi)"
    out = subprocess.run(["nvidia-smi", "--query-gpu=index,name,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True)
    return out.stdout.strip().replace("\n", "; ") or f"nvidia-smi failed: {out.stderr.strip()}"


def _sandbox() -> str:
    """The mode the default `sandbox.mode: auto` resolves to here, and why (a campaign may set none or bwrap)."""
    from alphalab.sandbox import SandboxConfig, resolve_mode

    mode, why = resolve_mode(SandboxConfig())
    if mode == "none":
        why += " -- experiment code and agent commands could read held-out targets and API keys and forge results"
    return f"{mode} ({why})"


def run(args) -> int:
    rows = [("python", platform.python_version())]
    rows += [(k, v) for k, v in package_versions().items()]
    rows.append(("prefect api", _prefect_api()))
    rows.append(("sandbox", _sandbox()))
    for var in _KEY_VARS:
        rows.append((var, "set" if os.environ.get(var) else "not set"))
    rows.append(("gpus", _gpus()))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    return 0

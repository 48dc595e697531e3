"""`alphalab agent "TASK" --model PROVIDER:MODEL --workspace DIR`: one agent with the general tools, for trying a
provider (or a scripted run) by hand. Every step is printed; the trajectory and usage land in the workspace."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from pydantic import ValidationError

from alphalab.agent import Agent
from alphalab.config import AgentLimits, ModelSettings, WebSearchConfig
from alphalab.cost import UsageLedger
from alphalab.errors import AlphalabError, ConfigError
from alphalab.models.base import ProviderError
from alphalab.models.registry import get_model
from alphalab.sandbox import SandboxConfig, effective_mode, sandbox_notice
from alphalab.tools import ToolContext, general_tools, report_to_user
from alphalab.workspace import Workspace

SYSTEM = (
    "You are a research engineer working in the folder {workspace}. Use your tools to do the task: run commands, "
    "read and write files, look at plots. Work step by step and check your results. When you are done, call "
    "report_to_user with a concise report of what you did and found."
)
_PROVIDERS = ("openai", "anthropic", "openai-compatible", "scripted")


def register(sub) -> None:
    p = sub.add_parser("agent", help="run one agent with the general tools on a task (try a provider by hand)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("task", help="what the agent should do")
    p.add_argument("--model", required=True, metavar="PROVIDER:MODEL",
                   help=f"PROVIDER in {'|'.join(_PROVIDERS)}; e.g. openai:gpt-4.1, anthropic:claude-sonnet-4-5, "
                        "scripted (with --script)")
    p.add_argument("--workspace", required=True, type=Path, help="folder the agent works in (created if missing)")
    p.add_argument("--base-url", help="API base URL (required for openai-compatible)")
    p.add_argument("--api-key-env", help="env var holding the API key (default: the provider's usual one)")
    p.add_argument("--script", type=Path, help="YAML/JSON list of responses for provider 'scripted'")
    p.add_argument("--context-window", type=int, default=200_000, help="the model's context window in tokens")
    p.add_argument("--sandbox", choices=("auto", "none", "bwrap"), default="auto",
                   help="how shell commands are isolated (auto: bubblewrap wherever it works, else none)")
    p.add_argument("--allow-network", action="store_true", help="let sandboxed commands use the network")
    p.add_argument("--web-search-url", help="HTTP search API for web_search (a URL with {query} is fetched with GET)")
    p.add_argument("--max-steps", type=int, default=30)
    p.add_argument("--max-usd", type=float, default=2.0)
    p.add_argument("--max-wall-seconds", type=float, default=1800.0)
    p.set_defaults(func=run)


def _settings(args) -> ModelSettings:
    provider, _, model = args.model.partition(":")
    if provider not in _PROVIDERS:
        raise ConfigError(f"--model: unknown provider {provider!r}; use one of {', '.join(_PROVIDERS)}")
    try:
        return ModelSettings(provider=provider, model=model or None, base_url=args.base_url,
                             api_key_env=args.api_key_env, script=args.script, context_window=args.context_window)
    except ValidationError as e:
        raise ConfigError("--model: " + "; ".join(err["msg"] for err in e.errors())) from None


def run(args) -> int:
    settings = _settings(args)
    sandbox = SandboxConfig(mode=args.sandbox, allow_network=args.allow_network)
    effective_mode(sandbox)  # a strict `bwrap` that cannot run fails here, before any model call
    if (notice := sandbox_notice(sandbox)) is not None:
        print(notice, file=sys.stderr)
    try:
        model = get_model(settings)
    except (ProviderError, ValueError) as e:
        raise AlphalabError(str(e)) from None
    ws = Workspace(args.workspace.resolve())
    ws.root.mkdir(parents=True, exist_ok=True)
    limits = AgentLimits(max_steps=args.max_steps, max_usd=args.max_usd, max_wall_seconds=args.max_wall_seconds)
    ctx = ToolContext(
        workspace=ws.root, sandbox=sandbox, shell_timeout_s=limits.shell_timeout_s,
        output_chars=limits.tool_output_chars,
        web_search=WebSearchConfig(mode="http", url=args.web_search_url) if args.web_search_url else None,
    )
    trajectory = ws.trajectories / f"agent-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}.jsonl"
    agent = Agent(model, general_tools() + [report_to_user], ctx, limits, trajectory, on_step=print,
                  ledger=UsageLedger(ws.usage_log), role="agent", phase="cli")
    try:
        result = agent.run(SYSTEM.format(workspace=ws.root), args.task)
    except ProviderError as e:
        raise AlphalabError(f"{e} (trajectory so far: {trajectory})") from None
    print()
    print(result.payload if result.finished else f"stopped without a report: {result.reason}")
    print(f"\n{result.reason}: {result.steps} steps, {result.usage.total} tokens, ${result.cost_usd:.4f}; "
          f"trajectory {trajectory}")
    return 0 if result.finished else 1

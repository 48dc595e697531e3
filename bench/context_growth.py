"""Does the Strategist's context stay bounded as a campaign grows?

    .venv/bin/python bench/context_growth.py

Runs a 60-experiment Phase 3 on the synthetic domain whose Strategist is a scripted model (it proposes four
experiments per turn and appends a lesson to the playbook every turn, as a real one does); Workers are the baseline.
Prints the Strategist's prompt size in tokens at the turns after experiments 10, 25 and 50 were analyzed.
Target: at 50 no more than 1.3 times the size at 10.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import alphalab.roles.llm as llm  # noqa: E402
from alphalab.agent import estimate_tokens  # noqa: E402
from alphalab.phase3.dispatcher import Dispatcher  # noqa: E402
from alphalab.roles.phase3 import local_roles  # noqa: E402
from alphalab.execution import LocalRunner  # noqa: E402
from alphalab.models.base import ModelResponse, ToolCall, Usage  # noqa: E402
from alphalab.campaign import Campaign  # noqa: E402
from alphalab.roles.base import RoleContext  # noqa: E402
from fixtures.phase3.helpers import make_workspace  # noqa: E402

CHECKPOINTS = (10, 25, 50)
LESSON = ("- kind a beats kind b and c at equal x; the loss is smallest near x=0.3 and grows quadratically away "
          "from it; runs at the edges of x waste budget; keep proposals within 0.15 of the best x. ") * 3


class ScriptedStrategist:
    """One turn: four proposals and a playbook lesson in one response, then the report. Records prompt sizes."""

    supports_images = False
    context_window = 200_000
    name = "scripted:strategist"
    prompts: list[tuple[int, int]] = []  # (turn, tokens of the prompt)
    rng = random.Random(0)

    def __init__(self):
        self.step = 0

    def complete(self, messages, tools):
        self.step += 1
        if self.step == 1:
            ScriptedStrategist.prompts.append((len(self.prompts) + 1, estimate_tokens(messages[:2])))
            calls = []
            for i in range(4):
                params = {"x": round(self.rng.random(), 3), "kind": self.rng.choice("abc"), "mode": "ok"}
                calls.append(("propose_experiment", {"name": f"t{len(self.prompts)}-{i}", "hypothesis": "explore",
                                                     "spec": {"params": params}}))
            calls.append(("update_playbook", {"heading": f"Turn {len(self.prompts)}", "content": LESSON}))
        else:
            calls = [("report_to_user", {"message": "turn done"})]
        return ModelResponse(
            tool_calls=[ToolCall(id=f"c{self.step}-{i}", name=n, arguments=json.dumps(a)) for i, (n, a) in
                        enumerate(calls)],
            stop_reason="tool_use", usage=Usage(input_tokens=1000, output_tokens=100))


def main() -> int:
    tmp = Path(tempfile.mkdtemp(prefix="alphalab-ctx-"))
    config, ws = make_workspace(
        tmp, budgets={"experiments": 60},
        models={"roles": {"strategist": {"provider": "scripted", "model": "strategist",
                                         "script": str(tmp / "unused.yaml")}}},
        phase3={"patience": 1000, "strategist_every": 5, "reporter_every": 1000, "playbook_max_chars": 6000},
    )
    llm.get_model = lambda settings, **_: ScriptedStrategist()
    env = Campaign(config, ws)
    ctx = RoleContext(config, ws, log=lambda line: None, phase="phase3")
    dispatcher = Dispatcher(env, LocalRunner(["0", "1"]), local_roles(ctx), log=lambda line: None)
    summary = dispatcher.run()
    # the Dispatcher knows how many experiments were analyzed when each turn started
    by_turn = dict(ScriptedStrategist.prompts)
    sizes = [(analyzed, by_turn[i + 1]) for i, (analyzed, _) in enumerate(summary.strategist_prompts)
             if i + 1 in by_turn]
    print(f"{summary.strategist_turns} Strategist turns, {summary.analyzed} experiments analyzed; "
          f"playbook {len(ws.playbook.read_text())} chars (budget {config.phase3.playbook_max_chars})")
    print("turn: experiments analyzed -> prompt tokens")
    for i, (analyzed, tokens) in enumerate(sizes, start=1):
        print(f"  {i:2d}: {analyzed:3d} -> {tokens}")
    picked = {}
    for n in CHECKPOINTS:
        after = [t for a, t in sizes if a >= n]
        picked[n] = after[0] if after else sizes[-1][1]
        print(f"prompt at experiment {n}: {picked[n]} tokens")
    print(f"ratio 50/10: {picked[50] / picked[10]:.2f} (target <= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""When the Strategist takes a turn, what it is asked for, and what its answer does to the board.

A turn is due every `strategist_every` analyzed experiments, or when the queue would run dry: fewer pending
experiments than two waves of slots, since implementing one (with its smoke test) takes a while and a slot must not
wait for it. A turn that proposed nothing is not repeated until another experiment is analyzed.
"""

from __future__ import annotations

from alphalab.board_rows import IllegalTransition, UnknownExperiment
from alphalab.campaign import Campaign
from alphalab.phase3.contracts import Phase3Progress, StrategistInput, StrategistOutput


class StrategistTurns:
    def __init__(self, campaign: Campaign, slots: int):
        self.campaign = campaign
        self.cfg = campaign.config.phase3
        self.slots = slots
        self.idle_mark: int | None = None  # analyzed count when the Strategist last proposed nothing
        self.started_at = 0  # analyzed count when the running turn started
        # (experiments analyzed when the turn started, characters of the Strategist's prompt)
        self.prompts: list[tuple[int, int]] = []

    def due(self, progress: Phase3Progress, pending: int) -> bool:
        analyzed = self.campaign.board.analyzed_count()
        if analyzed - progress.strategist_analyzed_at >= self.cfg.strategist_every and progress.strategist_turns > 0:
            return True
        return pending < 2 * self.slots and self.idle_mark != analyzed

    def start(self, progress: Phase3Progress, pending: int, budget_left: int, usd_spent: float) -> StrategistInput:
        """The next turn's request; `progress` counts it."""
        analyzed = self.campaign.board.analyzed_count()
        progress.strategist_turns += 1
        progress.strategist_analyzed_at = self.started_at = analyzed
        wanted = min(budget_left, max(self.cfg.proposals_per_turn, self.slots - pending))
        return StrategistInput(turn=progress.strategist_turns, proposals_wanted=wanted, budget_left=budget_left,
                               usd_spent=usd_spent)

    def failed(self) -> None:
        self.idle_mark = self.started_at

    def settle(self, out: StrategistOutput) -> None:
        """The debriefs the turn read are done; a turn without proposals marks the Strategist idle."""
        board = self.campaign.board
        for exp_id in out.seen_debriefs:
            try:
                board.transition(exp_id, "done", expect="analyzed")
            except (IllegalTransition, UnknownExperiment):
                pass
        self.idle_mark = None if out.proposed else self.started_at
        self.prompts.append((self.started_at, out.prompt_chars))

"""Phase 2: adversarial evaluation construction. Builder writes harness/, a fresh Critic audits it (PASS or NEEDS
FIXES with file:line findings), the Builder fixes, up to `phase2.max_rounds`; then the Tester writes and runs
harness/tests/. The phase fails with a clear message without a PASS or with red tests."""

from __future__ import annotations

from prefect import flow, get_run_logger

from alphalab import harness_seal, supervisor_checks
from alphalab.adapters import load_adapter
from alphalab.campaign import Campaign
from alphalab.errors import PhaseFailed
from alphalab.roles.builder import BuilderInput
from alphalab.roles.critic import CriticInput, Review
from alphalab.roles.tester import TestReport
from tasks.setup_roles import build_harness, campaign_key, review_harness, test_harness


@flow(name="phase2-evaluation")
def phase2_evaluation(workspace: str, refresh_cache: bool = False) -> TestReport:
    campaign = Campaign.load(workspace)
    config, ws = campaign.config, campaign.workspace
    log = get_run_logger()
    load_adapter(ws.adapter)
    supervisor_checks.require(1, ws)  # the Builder works from Phase 1's learnings
    key = campaign_key(ws)
    harness_seal.unseal(ws)  # the Builder is about to change harness/; it is sealed again when the phase passes
    build, critique, test = (t.with_options(refresh_cache=True) if refresh_cache else t
                             for t in (build_harness, review_harness, test_harness))
    max_rounds = config.phase2.max_rounds
    review: Review | None = None
    for round_ in range(1, max_rounds + 1):
        build(workspace, key, BuilderInput(round=round_, review=review.markdown() if review else ""))
        review = critique(workspace, key, CriticInput(round=round_))
        log.info(f"Phase 2 round {round_}: Critic says {review.verdict}")
        if review.passed:
            break
    else:
        raise PhaseFailed(
            f"Phase 2: the Critic did not PASS the harness in {max_rounds} round(s); its last findings "
            f"(reviews/round_{max_rounds:02d}.md):\n" + "\n".join(
                f"  - {f.file}:{f.line}: {f.issue}" for f in review.findings)
            + "\nRead the reviews, then rerun the phase: `alphalab rerun-phase 2 --workspace "
            f"{ws.root}` (raise phase2.max_rounds in its campaign.yaml to give the Builder more rounds)")
    report = test(workspace, key)
    if not report.passed:
        raise PhaseFailed(f"Phase 2: the harness tests are not green ({report.summary}); output in "
                          f"reviews/tests.txt:\n{report.output[-3000:]}")
    supervisor_checks.require(2, ws)
    sealed = harness_seal.seal(ws)
    ws.commit("phase 2: evaluation harness")
    log.info(f"Phase 2 done: Critic PASS in round {review.round}; tests: {report.summary}; "
             f"harness/ sealed ({sealed} files)")
    return report

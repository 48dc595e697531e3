"""Phase 2: adversarial evaluation construction. Each round the Builder writes harness/, the reference experiment
runs through it (the gate: smoke, then full, must record the primary metric), and a fresh Critic audits the harness
with that result in hand (PASS or NEEDS FIXES with file:line findings); a failed reference is the round's verdict
without a Critic. The Builder fixes, up to `phase2.max_rounds`; then the Tester writes and runs harness/tests/. The
phase fails with a clear message without a PASS, with red tests, or without a reference result of the harness as
it is sealed."""

from __future__ import annotations

from prefect import flow, get_run_logger

from alphalab import harness_seal, progress, supervisor_checks
from alphalab.adapters import load_adapter
from alphalab.campaign import Campaign
from alphalab.errors import PhaseFailed
from alphalab.roles.builder import BuilderInput
from alphalab.roles.critic import CriticInput, Review, reference_failed, save_review
from alphalab.roles.tester import TesterInput, TestReport, save_report
from flows.campaign_runs import on_phase_failure, run_name
from tasks.common import fresh_unless_present
from tasks.setup_roles import build_harness, campaign_key, check_reference, review_harness, test_harness


@flow(name="phase2-evaluation", flow_run_name=run_name("phase 2"),
      on_failure=[on_phase_failure(2)])
def phase2_evaluation(workspace: str, refresh_cache: bool = False) -> TestReport:
    campaign = Campaign.load(workspace)
    config, ws = campaign.config, campaign.workspace
    log = get_run_logger()
    load_adapter(ws.adapter)
    supervisor_checks.require(1, ws)  # the Builder works from Phase 1's learnings
    key = campaign_key(ws)
    if keep := harness_seal.hand_edits(ws):
        kept = (f"keeping harness files edited by hand since Phase 2 last wrote them: {', '.join(keep)} (the trusted "
                "harness does not replace them; delete one to get it back)")
        log.warning(f"Phase 2: {kept}")
        progress.emit(progress.ProgressEvent(phase="phase2", role="builder", detail=kept))
    harness_seal.unseal(ws)  # the Builder is about to change harness/; it is sealed again when the phase passes
    ws.archive_reviews()  # an earlier attempt's verdicts must not stand for this one's
    critique = fresh_unless_present(review_harness, [], refresh=refresh_cache)
    max_rounds = config.phase2.max_rounds
    review: Review | None = None
    for round_ in range(1, max_rounds + 1):
        build = fresh_unless_present(build_harness, [ws.harness], refresh=refresh_cache)
        build(workspace, key, BuilderInput(round=round_, review=review.markdown() if review else ""))
        harness_seal.record_written(ws)
        reference = check_reference(workspace, f"round-{round_}")
        if reference.passed:
            review = critique(workspace, key, CriticInput(round=round_, reference=reference.markdown(),
                                                          harness=reference.digest))
        else:
            review = reference_failed(ws, round_, reference)
        save_review(ws, review)
        log.info(f"Phase 2 round {round_}: {'Critic says' if reference.passed else 'reference failed:'} "
                 f"{review.verdict}")
        if review.passed:
            break
    else:
        raise PhaseFailed(
            f"Phase 2: the harness did not PASS in {max_rounds} round(s); the last findings "
            f"(reviews/round_{max_rounds:02d}.md):\n" + "\n".join(
                f"  - {f.file}:{f.line}: {f.issue}" for f in review.findings)
            + "\nRead the reviews (fix harness/ by hand if you like: your edits are kept), then rerun the phase: `alphalab rerun-phase 2 "
            f"--workspace {ws.root}` (raise phase2.max_rounds in its campaign.yaml to give the Builder more rounds)")
    test = fresh_unless_present(test_harness, [ws.harness_tests], refresh=refresh_cache)
    report = test(workspace, key, TesterInput(reference=reference.markdown(), harness=reference.digest))
    save_report(ws, report)
    harness_seal.record_written(ws)
    if not report.passed:
        raise PhaseFailed(f"Phase 2: the harness tests are not green ({report.summary}); output in "
                          f"reviews/tests.txt:\n{report.output[-3000:]}")
    if not reference.current(ws):  # the Tester changed the harness: what gets sealed must have produced a result
        reference = check_reference(workspace, "after-tests")
        if not reference.passed:
            raise PhaseFailed("Phase 2: after the Tester's changes to harness/, the reference experiment fails: "
                              + "; ".join(reference.problems))
    supervisor_checks.require(2, ws)
    sealed = harness_seal.seal(ws)
    ws.commit("phase 2: evaluation harness")
    log.info(f"Phase 2 done: Critic PASS in round {review.round}; reference {reference.primary}="
             f"{reference.results['full'].metrics[reference.primary]:.6g}; tests: {report.summary}; "
             f"harness/ sealed ({sealed} files)")
    return report

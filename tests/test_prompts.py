"""Every role's prompt, as its code builds it, for every built-in adapter: a system prompt that holds only what is
stable across the role's calls, a user message with the call's content, and no rendering glitches in either."""

from __future__ import annotations

import os

import pytest

from alphalab import harness_contract
from alphalab.config import BUILTIN_DOMAINS
from alphalab.roles.prompts import PLAYBOOK_HEADING
from prompt_rendering import campaign, glitches, role_prompts

# the first words of each call's user message (fake models key on them)
OPENINGS = {"strategist": "Strategist turn ", "worker-implement": "Implement experiment ",
            "worker-analyze": "Analyze experiment ", "worker-fix": "Fix experiment ", "builder": "Builder round ",
            "critic": "Critic review, round "}
CONTRACT_ROLES = ("generator", "builder", "critic", "tester")


@pytest.fixture(scope="module", params=BUILTIN_DOMAINS)
def prompts(request, tmp_path_factory):
    """The prompts of one campaign of a built-in adapter: on an empty board (the first Strategist turn), then on
    the board with results, a failure, an operator note and a playbook."""
    ctx = campaign(tmp_path_factory.mktemp(request.param), request.param)
    empty = role_prompts(ctx, with_results=False)
    return ctx, empty, role_prompts(ctx, with_results=True)


def test_no_prompt_has_a_rendering_glitch(prompts):
    _, empty, results = prompts
    for state, calls in (("empty board", empty), ("with results", results)):
        for role, (system, user) in calls.items():
            assert not glitches("\n\n".join(system)), (state, role, "system", glitches("\n\n".join(system)))
            assert not glitches(user), (state, role, "user", glitches(user))


def test_the_system_prompt_is_stable_and_the_call_is_the_user_message(prompts):
    ctx, empty, results = prompts
    for role, opening in OPENINGS.items():
        assert results[role][1].startswith(opening), (role, results[role][1][:80])
    assert empty["strategist"][1].startswith("Strategist turn 1:")
    # a role's template is the same whatever the call and the board; the playbook, which the campaign writes
    # between calls, follows it as a tier of its own
    playbook = ctx.workspace.playbook.read_text()
    for role, (system, _) in empty.items():
        stable = 2 if role in CONTRACT_ROLES else 1  # the template, then the harness contract
        assert system == results[role][0][:stable], role
        assert results[role][0][stable:] == [f"{PLAYBOOK_HEADING}\n{playbook.strip()}\n"], role
    calls = ("e00", "RuntimeError: boom", "try longer contexts", "Field required", "cut it at -H", "round 2")
    for role, (system, user) in results.items():
        assert not [c for c in calls if c in "".join(system)], role
    # the strategist sees what the template builds; the operator note and the board in the user message
    (system, _), user = results["strategist"]
    assert ctx.manifest.search_space_text() in system and "beyond_template" in system
    assert "try longer contexts" in user and "## Recent debriefs" in user
    assert "## Recent debriefs" not in empty["strategist"][1] and "## Notes" not in empty["strategist"][1]
    # Workers of every task kind share the longest prefix: everything up to their own instructions
    templates = [results[f"worker-{t}"][0][0] for t in ("implement", "analyze", "fix")]
    assert ctx.adapter.domain_knowledge.strip() in os.path.commonprefix(templates)
    # the fix sees the error log, the analysis the harness's result, the implement the rendered template
    assert "RuntimeError: boom" in results["worker-fix"][1] and "## Beyond the template" in results["worker-fix"][1]
    analyze = results["worker-analyze"][1]  # with the details only the harness's result holds
    assert "eval_mode: full" in analyze and "per_step: [0.45, 0.495" in analyze and "instances: 28" in analyze
    assert "## Already in the folder" in results["worker-implement"][1]


def test_the_roles_that_write_or_judge_a_harness_read_the_contract_and_the_generator_no_domain(prompts):
    _, empty, _ = prompts
    contract = harness_contract.text()
    for role, (system, _) in empty.items():
        assert (system[1:2] == [contract]) == (role in CONTRACT_ROLES), role
    assert "§9 Smoke and full" in contract and "- `{campaign_seed}`: " in contract and "- `metrics` (dict)" in contract
    # alphalab's own prompt: no built-in domain's protocol or wording, beyond the campaign's own line and the names of
    # the adapters it may read
    generator = "\n".join(line for line in empty["generator"][0][0].splitlines()
                          if "read_reference_adapter" not in line and "Domain:" not in line)
    assert "walk-forward" not in generator.lower() and "forecast" not in generator.lower()
    assert "kernel" not in generator.lower() and "held out" in generator


def test_the_critic_is_told_that_only_submit_review_counts(prompts):
    _, _, results = prompts
    (system,), user = results["critic"][0][:1], results["critic"][1]
    assert "submit_review" in system and "submit_review" in user
    assert "VERDICT:" not in system and "first line" not in system and "reviews/ folder" not in system


def test_the_glitch_check_finds_each_kind_of_glitch():
    assert glitches("Board summary:\n\nLeaderboard:\n| a |") == ["empty section 'Board summary:'"]
    assert glitches("## Recent debriefs\n## Notes\n- x") == ["empty section '## Recent debriefs'"]
    assert glitches("# Title\n## Section\ntext") == []
    assert glitches("- name:") == ["empty value in line '- name:'"]
    assert glitches("Spec: {'params': {}}")
    assert glitches("- parent: None") and glitches("best: [{'id': 1}]")
    assert glitches("Use `f(is_causal=True)`.") == []
    assert glitches("the end..") and not glitches("and so on...") and not glitches("see ../harness")
    assert glitches("{{ experiment.id }}") and glitches("{% if x %}")

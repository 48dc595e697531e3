"""Comparison baselines (the paper's section 3): the greedy loop and the single shot.

Both run on a workspace whose Phases 0-2 are done and record every experiment on the workspace's board, through the
same harness and runner as Phase 3, so `alphalab compare` reads a baseline and a campaign the same way. Each works
with the worker role's model (an LLM provider) or, with no model, with the baseline policy:

- greedy loop (`greedy`): start from the search space's reference, then repeatedly change the current best (one
  parameter at random, or one edit by the agent), run it, keep the change when the primary metric improves and
  revert otherwise, for the campaign's experiment budget;
- single shot (`single_shot`): one call writes the experiment (the template's reference without a model), with one
  retry that sees the error when its smoke test or its run fails.

`alphalab.workspace_fork` makes a baseline's workspace from a campaign's after Phase 2, so both are scored by the
same harness.
"""

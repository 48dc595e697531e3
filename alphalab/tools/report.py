"""report_to_user: the terminal tool of an agent run; its message is the run's result for the operator."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from alphalab.tools.base import Finished, ToolContext, ToolError, tool


@tool(terminal=True)
def report_to_user(ctx: ToolContext, message: str) -> str:
    """Send your final report to the human operator and end your turn.

    Args:
        message: what you did, what you found (with numbers), and what is left.
    """
    if not message.strip():
        raise ToolError("the report is empty: say what you did and what you found")
    notes = Path(ctx.workspace) / "notes"
    notes.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with (notes / "reports.md").open("a", encoding="utf-8") as f:
        f.write(f"## {stamp}\n\n{message.strip()}\n\n")
    raise Finished(message)

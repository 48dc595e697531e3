"""Rendering an adapter's prompt template as its role does: jinja2 StrictUndefined, exactly the documented variables
(the common ones plus the role's own), once per Worker task for the Worker's prompt."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from alphalab.adapters import COMMON_VARIABLES, ROLE_VARIABLES

WORKER_TASKS = ("implement", "analyze", "fix")


def render_prompt(adapter_dir: Path, template: str, values: dict[str, Any]) -> dict[str | None, str]:
    """The rendered text per task (key None for a prompt without a task); `values` may hold more than is allowed."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(adapter_dir)), undefined=jinja2.StrictUndefined)
    allowed = COMMON_VARIABLES | ROLE_VARIABLES[template]
    variables = {k: v for k, v in values.items() if k in allowed}
    tasks = WORKER_TASKS if "task" in allowed else (None,)
    return {task: env.get_template(template).render(**variables | ({"task": task} if task else {}))
            for task in tasks}

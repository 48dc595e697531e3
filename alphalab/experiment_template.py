"""Rendering an experiment folder from an adapter's template folder (jinja2, StrictUndefined): the baseline
Worker, the greedy loop, the noise floor and the benches all render experiments this one way.

Every `*.j2` file is rendered with `params` (search-space values) and `experiment` (id, name, seed) and written
without the suffix; other files are copied as they are.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jinja2
from pydantic import BaseModel


class TemplateExperiment(BaseModel):
    id: str
    name: str
    seed: int = 0


def render_template_dir(template_dir: Path, exp_dir: Path, params: dict, experiment: TemplateExperiment) -> list[Path]:
    template_dir, exp_dir = Path(template_dir), Path(exp_dir)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    written = []
    for src in sorted(p for p in template_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = src.relative_to(template_dir)
        dst = exp_dir / (rel.with_suffix("") if src.suffix == ".j2" else rel)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.suffix == ".j2":
            dst.write_text(env.get_template(rel.as_posix()).render(params=params, experiment=experiment))
        else:
            shutil.copyfile(src, dst)
        written.append(dst)
    return written

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


def template_files(template_dir: Path) -> list[Path]:
    return sorted(p for p in Path(template_dir).rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def template_environment(template_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir)), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True)


def render_file(env: jinja2.Environment, template_dir: Path, src: Path, exp_dir: Path, params: dict,
                experiment: TemplateExperiment) -> Path:
    """One file of the template: a `*.j2` rendered and written without its suffix, any other copied."""
    rel = src.relative_to(template_dir)
    dst = Path(exp_dir) / (rel.with_suffix("") if src.suffix == ".j2" else rel)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if src.suffix == ".j2":
        dst.write_text(env.get_template(rel.as_posix()).render(params=params, experiment=experiment))
    else:
        shutil.copyfile(src, dst)
    return dst


def render_template_dir(template_dir: Path, exp_dir: Path, params: dict, experiment: TemplateExperiment) -> list[Path]:
    template_dir = Path(template_dir)
    env = template_environment(template_dir)
    return [render_file(env, template_dir, src, exp_dir, params, experiment) for src in template_files(template_dir)]

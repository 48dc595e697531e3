"""Finding and loading problems in KernelBench's format.

A problem is a Python file defining `Model` (the reference), `get_inputs()` and `get_init_inputs()`. Sizes are
module-level constants, as in KernelBench; a problem may also define `SMALL_SIZES` (constant name -> value) that CPU
mode applies before calling `get_inputs`, so the same file serves an H100 and a laptop test.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import traceback
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel, ConfigDict

BUILTIN_PROBLEMS = Path(__file__).resolve().parent / "problems"
REQUIRED = ("Model", "get_inputs", "get_init_inputs")

_counter = itertools.count()


class ProblemRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    path: Path


def list_problems(problems_dir: Path = BUILTIN_PROBLEMS) -> list[ProblemRef]:
    """Every problem file in a directory (recursively, so a KernelBench `level1/` tree works), sorted by name."""
    root = Path(problems_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"problems directory not found: {root}")
    refs = [ProblemRef(name=p.stem, path=p) for p in sorted(root.rglob("*.py")) if not p.name.startswith("_")]
    return sorted(refs, key=lambda r: r.name)


def find_problem(name: str, problems_dir: Path = BUILTIN_PROBLEMS) -> ProblemRef:
    for ref in list_problems(problems_dir):
        if ref.name == name:
            return ref
    known = ", ".join(r.name for r in list_problems(problems_dir))
    raise KeyError(f"unknown problem {name!r} in {problems_dir} (known: {known})")


def load_module(path: Path, small: bool = False) -> ModuleType:
    """Import a problem (or solution) file under a fresh, private module name.

    With `small`, the problem's SMALL_SIZES override its size constants (CPU mode)."""
    path = Path(path).resolve()
    spec = importlib.util.spec_from_file_location(f"_kernel_mod_{next(_counter)}_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if small:
        for key, value in getattr(module, "SMALL_SIZES", {}).items():
            setattr(module, key, value)
    return module


def check_problem_module(module: ModuleType) -> None:
    missing = [a for a in REQUIRED if not hasattr(module, a)]
    if missing:
        raise AttributeError(f"{module.__file__}: not a KernelBench-format problem, missing {missing}")


def _top_level_names(tree: ast.Module) -> set[str] | None:
    """The names a module binds at its top level; None when a star import may bind any."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            if any(a.name == "*" for a in node.names):
                return None
            names |= {a.asname or a.name.split(".")[0] for a in node.names}
    return names


def check_problems(data: Path) -> list[str]:
    """The problem files of a campaign's data folder, checked before the campaign starts, without running them (a
    problem imports torch and may build large tensors at import): each must compile and define Model, get_inputs
    and get_init_inputs. A data path that holds no problem file means the built-in set, which is known good."""
    if not Path(data).is_dir():
        return []
    out = []
    for ref in list_problems(data):
        source = ref.path.read_bytes()
        try:
            compile(source, str(ref.path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as e:
            line = f" line {e.lineno}" if isinstance(e, SyntaxError) and e.lineno else ""
            out.append(f"{ref.path}{line}: does not compile: {e.msg if isinstance(e, SyntaxError) else e}")
            continue
        names = _top_level_names(ast.parse(source))
        if missing := [f"`{a}`" for a in REQUIRED if names is not None and a not in names]:
            out.append(f"{ref.path}: not a KernelBench-format problem: defines no {', '.join(missing)} at module level")
    return out


def short_error(exc: BaseException, limit: int = 2000) -> str:
    """The last line(s) of an exception raised by problem or solution code, for a report."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[-limit:]

"""Finding and loading problems, in either suite's format.

- KernelBench: a Python file defining `Model` (the reference), `get_inputs()` and `get_init_inputs()`, in level
  folders or loose. Sizes are module-level constants; a problem may also define `SMALL_SIZES` (constant name ->
  value) that CPU mode applies before calling `get_inputs`, so the same file serves an H100 and a laptop test, and
  `CHECK_SIZES`, the shape-check configuration (default: every size constant scaled by 3/4, plus one, so a kernel
  that assumes a power of two or a block multiple shows it).
- robust-kbench (SakanaAI/robust-kbench `tasks/<name>/`): a folder holding `func_forward.py` (`forward_fn`, a
  `Model` whose `forward(*inputs, fn=forward_fn)` takes the function, and `get_inputs(**sizes)`) and
  `config_forward.json` (single and multi lists of input, init and shared keyword sets). The first single
  combination is the problem's shape; the first multi combination that differs is its shape check.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import json
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

BUILTIN_PROBLEMS = Path(__file__).resolve().parent / "problems"
REQUIRED = ("Model", "get_inputs", "get_init_inputs")
ROBUST_FILE = "func_forward.py"
ROBUST_CONFIG = "config_forward.json"
ROBUST_REQUIRED = ("forward_fn", "Model", "get_inputs")

_counter = itertools.count()
_FORMAT_NAMES = {"kernelbench": "KernelBench", "robust-kbench": "robust-kbench"}

Kwargs = dict[str, Any]


class ProblemRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    path: Path = Field(description="the problem file (a robust-kbench task's func_forward.py)")
    format: Literal["kernelbench", "robust-kbench"] = "kernelbench"

    @property
    def config_file(self) -> Path:
        return self.path.parent / ROBUST_CONFIG


class RobustConfig(BaseModel):
    """A robust-kbench config_forward.json."""

    model_config = ConfigDict(extra="ignore")

    single_input_configs: list[Kwargs] = Field(min_length=1)
    single_init_configs: list[Kwargs] = Field(min_length=1)
    single_shared_configs: list[Kwargs] = Field(min_length=1)
    multi_input_configs: list[Kwargs] = Field(default_factory=list)
    multi_init_configs: list[Kwargs] = Field(default_factory=list)
    multi_shared_configs: list[Kwargs] = Field(default_factory=list)

    @staticmethod
    def _combine(inits: list[Kwargs], inputs: list[Kwargs], shared: list[Kwargs]) -> list[tuple[Kwargs, Kwargs]]:
        # robust-kbench's ConfigTask.get_configs: every (init, input, shared) triple, the shared keys applied last
        return [({**i, **s}, {**x, **s}) for i in inits for x in inputs for s in shared]

    def configurations(self) -> list[tuple[Kwargs, Kwargs]]:
        """(Model keyword arguments, get_inputs keyword arguments): the problem's own first, then its shape check
        when the multi lists hold a different one."""
        own = self._combine(self.single_init_configs, self.single_input_configs, self.single_shared_configs)[0]
        multi = self._combine(self.multi_init_configs or self.single_init_configs,
                              self.multi_input_configs or self.single_input_configs,
                              self.multi_shared_configs or self.single_shared_configs)
        return [own, *[c for c in multi if c != own][:1]]


def problem_ref(path: Path, format: str = "kernelbench") -> ProblemRef:
    """The reference to a problem file, as list_problems names it."""
    path = Path(path)
    return ProblemRef(name=path.parent.name if format == "robust-kbench" else path.stem, path=path, format=format)


def read_config(ref: ProblemRef) -> RobustConfig:
    try:
        return RobustConfig.model_validate_json(ref.config_file.read_bytes())
    except (OSError, ValidationError) as exc:
        raise ValueError(f"{ref.config_file}: not a robust-kbench config: {exc}") from exc


def list_problems(problems_dir: Path = BUILTIN_PROBLEMS) -> list[ProblemRef]:
    """Every problem under a directory, sorted by name: robust-kbench task folders (named by the folder) and
    KernelBench files outside them (recursively, so a KernelBench `level1/` tree works)."""
    root = Path(problems_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"problems directory not found: {root}")
    tasks = {p.parent for p in root.rglob(ROBUST_FILE)}
    refs = [problem_ref(t / ROBUST_FILE, "robust-kbench") for t in tasks]
    refs += [ProblemRef(name=p.stem, path=p) for p in sorted(root.rglob("*.py"))
             if not p.name.startswith("_") and not any(p.is_relative_to(t) for t in tasks)]
    return sorted(refs, key=lambda r: r.name)


def resolve_problem_set(data: Path | None, configured: Path | None) -> Path:
    """Where a campaign's problems are: the configured folder, else its data path when that holds problems (a
    KernelBench checkout, robust-kbench's `tasks/`), else the built-in set."""
    if configured is not None:
        return configured
    if data is not None and Path(data).is_dir() and any(Path(data).rglob("*.py")):
        return Path(data)
    return BUILTIN_PROBLEMS


def has_shape_check(ref: ProblemRef) -> bool:
    """Whether the problem has a second configuration, read without running it."""
    if ref.format == "robust-kbench":
        return len(read_config(ref).configurations()) > 1
    names = _top_level_names(ast.parse(ref.path.read_bytes())) or set()
    return "CHECK_SIZES" in names or "SMALL_SIZES" in names or bool(_int_constants(ref.path))


def _int_constants(path: Path) -> dict[str, int]:
    tree = ast.parse(Path(path).read_bytes())
    return {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and type(node.value.value) is int
            for t in node.targets if isinstance(t, ast.Name)}


def scaled(value: int) -> int:
    """A size for the shape check: about 3/4 of the original and odd-sized, so no power of two or block multiple
    survives; sizes below 4 (batch 1, a kernel size of 3) stay."""
    return value * 3 // 4 + 1 if value >= 4 else value


def check_sizes(module: ModuleType, small: bool) -> dict[str, int]:
    """The size constants of a KernelBench problem's shape-check configuration."""
    if not small and hasattr(module, "CHECK_SIZES"):
        return dict(module.CHECK_SIZES)
    names = list(getattr(module, "SMALL_SIZES", {})) or list(_int_constants(Path(module.__file__)))
    return {k: scaled(getattr(module, k)) for k in names if type(getattr(module, k, None)) is int}


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


def check_problem_module(module: ModuleType, ref: ProblemRef) -> None:
    required = ROBUST_REQUIRED if ref.format == "robust-kbench" else REQUIRED
    missing = [a for a in required if not hasattr(module, a)]
    if missing:
        raise AttributeError(f"{module.__file__}: not a {_FORMAT_NAMES[ref.format]}-format problem, missing {missing}")


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


def _check_problem(ref: ProblemRef) -> list[str]:
    source = ref.path.read_bytes()
    try:
        compile(source, str(ref.path), "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        line = f" line {e.lineno}" if isinstance(e, SyntaxError) and e.lineno else ""
        return [f"{ref.path}{line}: does not compile: {e.msg if isinstance(e, SyntaxError) else e}"]
    names = _top_level_names(ast.parse(source))
    required = ROBUST_REQUIRED if ref.format == "robust-kbench" else REQUIRED
    if missing := [f"`{a}`" for a in required if names is not None and a not in names]:
        return [f"{ref.path}: not a {_FORMAT_NAMES[ref.format]}-format problem: defines no {', '.join(missing)} "
                "at module level"]
    if ref.format == "robust-kbench":
        if not ref.config_file.is_file():
            return [f"{ref.config_file}: missing (a robust-kbench task folder needs its {ROBUST_CONFIG})"]
        try:
            json.loads(ref.config_file.read_bytes())
            read_config(ref)
        except json.JSONDecodeError as e:
            return [f"{ref.config_file} line {e.lineno}: not JSON: {e.msg}"]
        except ValueError as e:
            return [str(e).splitlines()[0] + " (needs non-empty single_input_configs, single_init_configs and "
                                             "single_shared_configs lists of objects)"]
    return []


def check_problems(data: Path) -> list[str]:
    """The problems of a campaign's data folder, in either format, checked before the campaign starts, without
    running them (a problem imports torch and may build large tensors at import): each file must compile and
    define the names its format needs, and a robust-kbench task's config must parse. A data path that holds no
    problem file means the built-in set, which is known good."""
    if not Path(data).is_dir():
        return []
    return [line for ref in list_problems(data) for line in _check_problem(ref)]


def short_error(exc: BaseException, limit: int = 2000) -> str:
    """The last line(s) of an exception raised by problem or solution code, for a report."""
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[-limit:]

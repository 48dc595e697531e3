"""Static checks of a solution's source, run before the harness imports it.

Each rule names a way a solution could win the benchmark without doing the work faster: reaching the reference
model, falling back to PyTorch behind a try/except, running work on a side stream the timer does not wait for,
or touching the timer itself. The rules read the whole file, CUDA source strings included. They are a first line:
the runner re-checks the same properties at run time (see integrity.py), because a static reading can be evaded.
"""

from __future__ import annotations

import ast
import re

from pydantic import BaseModel

# top-level modules a solution may import: the toolchains for writing kernels and nothing that reaches the
# interpreter's internals, the file system, the clock or the harness
ALLOWED_IMPORTS = frozenset({"torch", "triton", "math", "functools", "typing", "__future__", "dataclasses"})
_REFERENCE_IMPORTS = frozenset({"harnesses", "alphalab", "reference", "problem", "problems"})
_FORBIDDEN_CALLS = {
    "exec": "dynamic_code", "eval": "dynamic_code", "compile": "dynamic_code", "__import__": "dynamic_code",
    "globals": "dynamic_code", "locals": "dynamic_code", "vars": "dynamic_code", "open": "dynamic_code",
    "setattr": "patches_library", "delattr": "patches_library",
}
# stdlib modules torch itself imports, reachable as `torch.os`, `torch.sys`...: the same doors as importing them
_INTERPRETER_MODULES = frozenset({"os", "sys", "subprocess", "builtins", "importlib", "ctypes", "shutil", "io",
                                  "pathlib", "gc", "inspect", "signal", "threading", "multiprocessing", "socket"})
_TORCH_FALLBACK_APIS = ("torch.compile", "torch.jit", "torch._dynamo", "torch._inductor", "torch.overrides",
                        "torch.utils._python_dispatch", "torch._C")

_TEXT_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("side_stream", re.compile(r"\bStream\s*\(|torch\.cuda\.stream\b|\bset_stream\b|ExternalStream|"
                               r"cudaStreamCreate|getStreamFromPool|cudaStreamNonBlocking|cudaStreamPerThread|"
                               r"default-stream\s+per-thread|cudaStreamLegacy|StreamGuard|setCurrentCUDAStream"),
     "work on a CUDA stream other than the current one (the timer's events would not wait for it)"),
    ("patches_timer", re.compile(r"\bEvent\b|elapsed_time|perf_counter|process_time|\bmonotonic\b|cudaEvent|"
                                 r"\bclock_gettime\b"),
     "touches the timer (CUDA events or clocks belong to the harness)"),
    ("calls_reference", re.compile(r"\bget_inputs\b|\bget_init_inputs\b|\bsys\.modules\b|\bgc\.get_objects\b"),
     "reaches for the reference problem"),
)


# when a file breaks several rules, the verdict names the most telling one
_RULE_PRIORITY = ("syntax", "no_modelnew", "calls_reference", "patches_timer", "side_stream", "torch_fallback",
                  "try_except", "patches_library", "dynamic_code", "forbidden_import")


class Violation(BaseModel):
    rule: str
    detail: str
    line: int | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"{self.rule}: {self.detail}{where}"


def _is_fallback_api(name: str) -> bool:
    return any(name == api or name.startswith(api + ".") for api in _TORCH_FALLBACK_APIS)


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.module_aliases: dict[str, str] = {}  # local name -> imported module path
        self.defined_classes: set[str] = set()

    def flag(self, rule: str, detail: str, node: ast.AST) -> None:
        self.violations.append(Violation(rule=rule, detail=detail, line=getattr(node, "lineno", None)))

    def _check_module(self, name: str, node: ast.AST) -> None:
        top = name.split(".")[0]
        if top in _REFERENCE_IMPORTS:
            self.flag("calls_reference", f"imports {name!r}, which holds the reference model", node)
        elif top not in ALLOWED_IMPORTS:
            self.flag("forbidden_import", f"imports {name!r} (allowed: {', '.join(sorted(ALLOWED_IMPORTS))})", node)
        elif _is_fallback_api(name):
            self.flag("torch_fallback", f"imports {name!r}", node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(alias.name, node)
            # `import a.b` binds `a`; `import a.b as c` binds `c` to `a.b`
            bound = alias.asname or alias.name.split(".")[0]
            self.module_aliases[bound] = alias.name if alias.asname else bound

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.flag("calls_reference", "relative import (the reference may sit beside the solution)", node)
            return
        module = node.module or ""
        self._check_module(module, node)
        for alias in node.names:
            full = f"{module}.{alias.name}"
            if _is_fallback_api(full):
                self.flag("torch_fallback", f"imports {full!r}", node)
            self.module_aliases[alias.asname or alias.name] = full

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.defined_classes.add(node.name)
        self.generic_visit(node)

    def visit_Try(self, node: ast.AST) -> None:
        self.flag("try_except", "try/except (a kernel that fails must fail the experiment, not fall back)", node)
        self.generic_visit(node)

    visit_TryStar = visit_Try

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id in _FORBIDDEN_CALLS:
            self.flag(_FORBIDDEN_CALLS[node.func.id], f"calls {node.func.id}()", node)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        dotted = _dotted(node)
        if dotted:
            root, _, rest = dotted.partition(".")
            full = f"{self.module_aliases.get(root, root)}.{rest}" if rest else dotted
            if _is_fallback_api(full):
                self.flag("torch_fallback", f"uses {full} (the work must run in the solution's own kernels)", node)
            if node.attr.startswith("__") and node.attr not in ("__init__", "__name__"):
                self.flag("patches_library", f"reaches interpreter internals via {node.attr}", node)
            if node.attr in _INTERPRETER_MODULES and root in self.module_aliases:
                self.flag("forbidden_import", f"reaches the {node.attr!r} module through {dotted} (the same as "
                                              f"importing it: allowed are {', '.join(sorted(ALLOWED_IMPORTS))})", node)
        self.generic_visit(node)

    def _check_store(self, target: ast.AST) -> None:
        if isinstance(target, ast.Attribute):
            root = _dotted(target)
            if root and root.split(".")[0] in self.module_aliases:
                self.flag("patches_library", f"assigns to {root} (patching a library, e.g. the timer)", target)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._check_store(elt)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_store(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_store(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_store(target)
        self.generic_visit(node)


def check_source(source: str) -> list[Violation]:
    """All violations in a solution's source; an empty list means it may be imported and run."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return [Violation(rule="syntax", detail=str(exc), line=exc.lineno)]
    visitor = _Visitor()
    visitor.visit(tree)
    violations = visitor.violations
    if "ModelNew" not in visitor.defined_classes and not _assigns_name(tree, "ModelNew"):
        violations.append(Violation(rule="no_modelnew", detail="the solution must define a ModelNew class"))
    if "Model" not in visitor.defined_classes and re.search(r"\bModel\s*\(", source):
        violations.append(Violation(rule="calls_reference", detail="instantiates the reference Model"))
    return _sorted(violations + _text_violations(source))


_EXPORTS_FORWARD = re.compile(r"""\.def\s*\(\s*"forward"\s*,""")


def check_cuda_source(source: str) -> list[Violation]:
    """A robust-kbench submission (a `.cu` file the harness builds, whose `forward` takes the place of the task's
    `forward_fn`): the text rules, and the export."""
    violations = _text_violations(source)
    if not _EXPORTS_FORWARD.search(source):
        violations.append(Violation(rule="no_modelnew", detail='the .cu file must export `forward` '
                                                               '(m.def("forward", ...) in PYBIND11_MODULE)'))
    return _sorted(violations)


def _text_violations(source: str) -> list[Violation]:
    return [Violation(rule=rule, detail=f"{detail}: {match.group(0)!r}", line=number)
            for rule, pattern, detail in _TEXT_RULES
            for number, line in enumerate(source.splitlines(), start=1) if (match := pattern.search(line))]


def _sorted(violations: list[Violation]) -> list[Violation]:
    return sorted(violations, key=lambda v: _RULE_PRIORITY.index(v.rule))


def _assigns_name(tree: ast.Module, name: str) -> bool:
    return any(isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
               for node in tree.body)

"""Layers only point down: an AST walk over speechdis/ (function-local imports included) finds every import
of a higher layer than the importing module's.

    core (errors, config, fileio, modelfile, procpool, registry, devices, the package root) < audio < data
    < speech / image / adversarial < training < inference < eval < cli

Modules of one layer may import each other (speech and image both use adversarial). ``UPWARD_DEBT`` lists
the upward imports that exist today, each with why it is there (imports under ``if TYPE_CHECKING:`` are
not counted: annotations only): a new one fails this test, and so does
removing one without deleting its line (so the list only shrinks). ``LAZY_OK`` are the imports kept lazy and
upward on purpose (to keep ``import speechdis`` light); they are not debt.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers import REPO

LAYERS = {
    "errors": 0, "config": 0, "fileio": 0, "modelfile": 0, "procpool": 0, "registry": 0, "": 0, "pretrained": 0,
    "devices": 0,
    "audio": 1,
    "data": 2,
    "speech": 3, "image": 3, "adversarial": 3,
    "training": 4,
    "inference": 5,
    "eval": 6,
    "cli": 7, "__main__": 7,
}

# (importing module, imported module): the package root's lazy load_model, on purpose.
LAZY_OK = {
    ("speechdis", "speechdis.inference.model"),
}


def layer_of(module: str, layers: dict[str, int], package: str = "speechdis") -> int:
    """The layer of a dotted module name inside ``package`` (its first component below the package)."""
    parts = module.split(".")
    assert parts[0] == package, module
    top = parts[1] if len(parts) > 1 else ""
    if top not in layers:
        raise KeyError(f"{module}: no layer for '{top}' (add it to LAYERS)")
    return layers[top]


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """Every (line, absolute module) that ``path`` imports, at any depth (function-local imports too)."""
    package = root.name
    me = module_name(path, root)
    is_pkg = path.name == "__init__.py"
    out = []
    tree = ast.parse(path.read_text(), str(path))
    type_only = set()  # imports under `if TYPE_CHECKING:` are types for annotations, not a runtime dependency
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            type_only |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == package]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".") if is_pkg else me.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != package:
                continue
            out.append((node.lineno, mod))
            # `from speechdis.eval import probes`: the submodule is what is imported
            for a in node.names:
                sub = f"{mod}.{a.name}"
                if (root.parent / Path(*sub.split("."))).with_suffix(".py").exists() or \
                        (root.parent / Path(*sub.split("."))).is_dir():
                    out.append((node.lineno, sub))
    return out


def upward_imports(root: Path, layers: dict[str, int]) -> list[tuple[str, int, str, str]]:
    """(file, line, importing module, imported module) for each import of a higher layer."""
    found = []
    for path in sorted(root.rglob("*.py")):
        me = module_name(path, root)
        mine = layer_of(me, layers, root.name)
        for line, mod in imports_of(path, root):
            if layer_of(mod, layers, root.name) > mine:
                found.append((str(path.relative_to(root.parent)), line, me, mod))
    return found


# Upward imports that exist today (issue 20 item 2 removes them): (importing module, imported module) -> why.
UPWARD_DEBT: dict[tuple[str, str], str] = {
}


def test_layers_only_point_down():
    found = upward_imports(REPO / "speechdis", LAYERS)
    pairs = {(me, mod) for _, _, me, mod in found}
    new = [f"{f}:{line}: {me} imports {mod} (layer {layer_of(me, LAYERS)} -> {layer_of(mod, LAYERS)})"
           for f, line, me, mod in found if (me, mod) not in UPWARD_DEBT and (me, mod) not in LAZY_OK]
    assert not new, "upward imports:\n" + "\n".join(new)
    gone = sorted(set(UPWARD_DEBT) - pairs)
    assert not gone, f"no longer imported, delete from UPWARD_DEBT: {gone}"


def _tiny_package(root: Path, files: dict[str, str]) -> Path:
    pkg = root / "speechdis"
    for rel, text in files.items():
        p = pkg / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    for d in [pkg, *[p for p in pkg.rglob("*") if p.is_dir()]]:
        (d / "__init__.py").touch()
    return pkg


@pytest.mark.parametrize("source", [
    "from speechdis.eval.probes import probe_table\n",
    "def f():\n    from speechdis.eval import probes\n",       # function-local: found too
    "import speechdis.eval.probes\n",
    "from ..eval import probes\n",                               # relative
])
def test_the_checker_flags_a_synthetic_upward_import(tmp_path, source):
    pkg = _tiny_package(tmp_path, {"errors.py": "", "eval/probes.py": "def probe_table(): ...\n",
                                   "training/loop.py": source})
    found = upward_imports(pkg, LAYERS)
    assert found, "the upward import was not flagged"
    assert all(me == "speechdis.training.loop" and mod.startswith("speechdis.eval") for _, _, me, mod in found)


def test_the_checker_passes_downward_and_same_layer_imports(tmp_path):
    pkg = _tiny_package(tmp_path, {"errors.py": "", "eval/probes.py": "from speechdis.errors import X\n",
                                   "eval/runner.py": "from .probes import probe_table\n",
                                   "image/gan.py": "from speechdis.adversarial import grl\n",
                                   "adversarial/grl.py": ""})
    assert upward_imports(pkg, LAYERS) == []

"""Every public function and method in speechdis/ has a docstring (issue 23)."""
import ast
from pathlib import Path

from tests.helpers import REPO

# Framework overrides document themselves in their base class (nn.Module.forward, argparse's error, ...).
OVERRIDES = {"forward", "extra_repr", "state_dict", "load_state_dict", "error"}


def undocumented(root: Path) -> list[str]:
    """`path:line name` of each public function/method below `root` without a docstring."""
    out: list[str] = []

    def walk(path: Path, body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
                if ast.get_docstring(node) is None and not (prefix and node.name in OVERRIDES):
                    out.append(f"{path.relative_to(root.parent)}:{node.lineno} {prefix}{node.name}")
            elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                walk(path, node.body, f"{node.name}.")

    for path in sorted(root.rglob("*.py")):
        walk(path, ast.parse(path.read_text()).body, "")
    return out


def test_every_public_function_has_a_docstring():
    assert undocumented(REPO / "speechdis") == []


def test_the_check_finds_an_undocumented_function(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "m.py").write_text('def documented():\n    """Yes."""\n\n\ndef bare():\n    return 1\n\n\n'
                              'def _private():\n    return 2\n\n\nclass C:\n    def forward(self):\n'
                              '        return 3\n\n    def method(self):\n        return 4\n')
    assert undocumented(pkg) == ["pkg/m.py:5 bare", "pkg/m.py:17 C.method"]

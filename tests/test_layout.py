"""The package's layout rules (DESIGN.md), checked on its source."""

from __future__ import annotations

import ast
from pathlib import Path

import toposcape as ts

PACKAGE = Path(ts.__file__).resolve().parent


def _torch_imports(path: Path) -> list[int]:
    """Line numbers of the statements in ``path`` that import torch or a torch submodule."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name == "torch" or name.startswith("torch.") for name in names):
            lines.append(node.lineno)
    return lines


def test_only_models_import_torch():
    offenders = {
        str(path.relative_to(PACKAGE)): lines
        for path in sorted(PACKAGE.rglob("*.py"))
        if "models" not in path.relative_to(PACKAGE).parts[:1] and (lines := _torch_imports(path))
    }
    assert offenders == {}, (
        f"torch imported outside toposcape.models (use models.load_torch): {offenders}"
    )


def test_the_check_sees_torch_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        "import os\nimport torch\ndef f():\n    from torch.nn import functional\n"
        "    import torchvision\n    from . import torch_like\n"
    )
    assert _torch_imports(source) == [2, 4]


def test_models_hold_the_torch_imports():
    assert _torch_imports(PACKAGE / "models" / "neural.py")
    assert ts.models.load_torch() is __import__("torch")

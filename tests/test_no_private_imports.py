"""No module imports a private name (``_x``) from another package of coloc_viewer."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "coloc_viewer"


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_module_imports_a_private_name_of_another_package():
    offences = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        here = ".".join(rel.parts)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.startswith("coloc_viewer."):
                if _package(node.module) == _package(here):
                    continue
                offences += [f"{here}: from {node.module} import {a.name}"
                             for a in node.names if a.name.startswith("_")]
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__") and isinstance(node.value, ast.Name) \
                    and node.value.id[:1].isupper() and node.attr == "_from_stack":
                offences.append(f"{here}: {node.value.id}.{node.attr}")
    assert not offences, "private names imported across packages:\n" + "\n".join(offences)

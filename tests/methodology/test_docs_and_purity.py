"""The format reference's example is a valid file; only the loader touches the file system."""

from __future__ import annotations

import ast
from pathlib import Path

import tanhui
from tanhui.domain.methodology import parse_methodology

from .conftest import ctx

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(tanhui.__file__).parent / "domain" / "methodology"
IO_MODULES = {"os", "pathlib", "importlib", "io", "tomllib", "hashlib", "shutil", "subprocess", "socket", "datetime.datetime.now"}


def test_format_reference_example_loads_and_quantifies() -> None:
    text = (ROOT / "docs" / "methodology-format.md").read_text(encoding="utf-8")
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    m = parse_methodology(example.encode("utf-8"), "docs/bus-ride-cn@1.toml")
    assert m.ref == "bus-ride-cn@1"
    assert m.quantify({}, ctx()).carbon_g == 80
    assert m.quantify({"distance_km": 10, "city": "shenzhen"}, ctx()).carbon_g == 269


def test_only_the_loader_reads_files() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("open", "eval", "exec", "compile", "__import__"), f"{path.name} calls {node.func.id}"
        if path.name != "loader.py":
            assert not imported & IO_MODULES, f"{path.name} imports {imported & IO_MODULES}"

"""The domain stays pure: stored event topics name its modules, so it must
never pull in infrastructure that could change under an auditor's replay."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED_THIRD_PARTY = {"eventsourcing.domain"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_domain_imports_only_the_standard_library_itself_and_eventsourcing_domain() -> None:
    sources = sorted((ROOT / "domain").rglob("*.py"))
    assert sources, "no domain modules found"
    offending = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources
        for name in imported_modules(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] != "domain"
        and name not in ALLOWED_THIRD_PARTY
    }
    assert offending == set()

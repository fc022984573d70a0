"""The domain imports nothing but the standard library, attrs and itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import tgstat.domain

DOMAIN = Path(tgstat.domain.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module)
    return roots


class TestDomainPurity:
    """A third-party or outer-layer import in domain/ fails this test."""

    def test_only_stdlib_attrs_and_domain(self) -> None:
        offenders = {}
        for path in sorted(DOMAIN.rglob("*.py")):
            bad = {
                name
                for name in imported_roots(path)
                if name.split(".")[0] not in sys.stdlib_module_names
                and name.split(".")[0] != "attrs"
                and not name.startswith("tgstat.domain")
            }
            if bad:
                offenders[path.name] = sorted(bad)
        assert offenders == {}

    def test_the_check_sees_imports(self, tmp_path: Path) -> None:
        sample = tmp_path / "m.py"
        sample.write_text("import psycopg\nfrom tgstat.flows import cli\nimport attrs\n")
        assert imported_roots(sample) == {"psycopg", "tgstat.flows", "attrs"}

"""No two modules of ``src/tgstat`` import each other, directly or through others."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected set of two or more modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(start: str) -> None:
        # iterative Tarjan: the import graph may be deeper than the recursion limit
        work: list[tuple[str, Iterator[str]]] = []

        def enter(module: str) -> None:
            index[module] = low[module] = len(index)
            stack.append(module)
            on_stack.add(module)
            work.append((module, iter(sorted(graph.find_modules_directly_imported_by(module)))))

        enter(start)
        while work:
            module, targets = work[-1]
            for target in targets:
                if target not in index:
                    enter(target)
                    break
                if target in on_stack:
                    low[module] = min(low[module], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[module])
                if low[module] == index[module]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == module:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(cycles)


@pytest.fixture(name="cyclic_package")
def _cyclic_package(tmp_path: Path) -> Iterator[str]:
    """A throwaway package whose modules ``a`` -> ``b`` -> ``c`` -> ``a`` form a cycle."""
    root = tmp_path / "cyclic_pkg"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "a.py").write_text("from cyclic_pkg import b\n")
    (root / "b.py").write_text("import cyclic_pkg.c\n")
    (root / "c.py").write_text("def f():\n    from cyclic_pkg.a import x\n")
    (root / "d.py").write_text("from cyclic_pkg import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        yield "cyclic_pkg"
    finally:
        sys.path.remove(str(tmp_path))


class TestImportCycles:
    """The check finds a deliberately introduced cycle, and tgstat has none."""

    def test_finds_a_deliberate_cycle(self, cyclic_package: str) -> None:
        graph = grimp.build_graph(cyclic_package, cache_dir=None)
        assert import_cycles(graph) == [["cyclic_pkg.a", "cyclic_pkg.b", "cyclic_pkg.c"]]

    def test_tgstat_has_no_cycles(self) -> None:
        assert import_cycles(grimp.build_graph("tgstat", cache_dir=None)) == []

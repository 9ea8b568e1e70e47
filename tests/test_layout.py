"""The test suite's own layout: test helpers live in helper modules.

A test module (``test_*.py``) holds tests. What several test modules share
(functions, constants, classes, fixtures) lives in a helper module whose name
does not start with ``test_`` (or in a ``conftest.py``), so no module under
``tests/`` imports a test module: a test module can then be changed, moved or
deleted on its own, and a shared helper is found where its name says.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

TESTS = Path(__file__).parent


def _is_test_module(dotted: str) -> bool:
    return dotted.rsplit(".", 1)[-1].startswith("test_")


def imports_of_test_modules(
        tree: ast.Module, package: str,
        is_module: Callable[[str], bool] = lambda dotted: _file(dotted).exists(),
) -> list[tuple[int, str]]:
    """Each ``(line, module)`` where ``tree`` (a module of ``package``)
    imports a test module: ``import a.test_b``, ``from a.test_b import c``,
    ``from a import test_b`` (where ``a/test_b.py`` is a module, not a name
    in ``a``) and their relative forms, at module level or inside
    functions."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names
                      if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            if _is_test_module(module):
                found.append((node.lineno, module))
            else:
                found += [(node.lineno, f"{module}.{alias.name}")
                          for alias in node.names
                          if _is_test_module(alias.name)
                          and is_module(f"{module}.{alias.name}")]
    return found


def _file(dotted: str) -> Path:
    return TESTS.parent.joinpath(*dotted.split(".")).with_suffix(".py")


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[:len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _package(path: Path) -> str:
    return ".".join(path.parent.relative_to(TESTS.parent).parts)


def test_no_test_module_imports_another():
    offences = [
        f"{path.relative_to(TESTS.parent)}:{line}: imports {module}"
        for path in sorted(TESTS.rglob("*.py"))
        for line, module in imports_of_test_modules(
            ast.parse(path.read_text(encoding="utf-8"), str(path)),
            _package(path))
    ]
    assert not offences, (
        "test helpers live in helper modules, not in test modules:\n"
        + "\n".join(offences))


def test_the_check_sees_every_form_of_import():
    source = """
import tests.a.test_b
import tests.a.test_b as b
from tests.a.test_b import c
from tests.a import test_b
from .test_b import c
from . import test_b
import tests.a.helpers
from tests.a.helpers import test_data
def f():
    from tests.a.test_b import (
        c,
    )
"""
    found = imports_of_test_modules(
        ast.parse(source), "tests.a",
        is_module=lambda dotted: dotted.endswith(".test_b"))
    assert found == [
        (2, "tests.a.test_b"), (3, "tests.a.test_b"), (4, "tests.a.test_b"),
        (5, "tests.a.test_b"), (6, "tests.a.test_b"), (7, "tests.a.test_b"),
        (11, "tests.a.test_b"),
    ]

"""Every Lambda handler has the same shape (the house style): Powertools decorators in one
order, then a short body that parses, calls one flow function and returns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

HANDLERS = Path(__file__).resolve().parents[3] / "functions" / "acceptor" / "handlers"
MODULES = sorted(p for p in HANDLERS.glob("*.py") if p.name != "__init__.py")
DECORATORS = [
    "logger.inject_lambda_context(clear_state=True)",
    "metrics.log_metrics(raise_on_empty_metrics=False)",
    "tracer.capture_lambda_handler",
]
# A thin handler: the flow lives in acceptor.flows, the wiring in acceptor.flows.wiring.
MAX_LINES = 80


def _handler(path: Path) -> ast.FunctionDef:
    tree = ast.parse(path.read_text())
    (handler,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "handler"]
    return handler


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_the_handler_has_the_powertools_decorators_in_the_house_order(path: Path) -> None:
    decorators = [ast.unparse(d) for d in _handler(path).decorator_list]

    assert decorators == DECORATORS


@pytest.mark.parametrize("path", MODULES, ids=[p.stem for p in MODULES])
def test_the_handler_module_is_thin(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES

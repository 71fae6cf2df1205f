"""Execution environments: each function in its own modules, variables and folder."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from replay_helpers import MINI

from acceptor_tools.replay.app import FunctionSpec
from acceptor_tools.replay.runtime import ExecutionEnvironment

pytestmark = [pytest.mark.e2e, pytest.mark.disable_socket]

CODE = MINI.parent / "functions"


def _environment(
    tmp_path: Path, handler: str = "miniapp.handlers.whoami", **env: str
) -> ExecutionEnvironment:
    spec = FunctionSpec(
        logical_id="Who",
        name="mini-Who",
        arn="arn:aws:lambda:us-east-1:123456789012:function:mini-Who",
        handler=handler,
        code_dir=CODE,
        runtime="python3.13",
        timeout=5,
        memory=128,
        environment={"STAGE": "test", **env},
    )
    return ExecutionEnvironment(spec, base_environ={}, log_path=tmp_path / "who.log")


def test_each_environment_keeps_its_own_module_state(tmp_path: Path) -> None:
    first, second = _environment(tmp_path), _environment(tmp_path)

    calls = [first.invoke({}, trigger="t").response["calls"] for _ in range(2)]
    other = second.invoke({}, trigger="t").response["calls"]

    assert calls == [1, 2]  # warm: module state survives between calls of one function
    assert other == 1  # another function does not see it


def test_function_modules_are_not_left_in_the_caller(tmp_path: Path) -> None:
    _environment(tmp_path).invoke({}, trigger="t")

    assert "miniapp" not in sys.modules
    assert "miniapp.handlers" not in sys.modules
    assert str(CODE) not in sys.path


def test_handler_sees_its_variables_and_folder_and_the_caller_gets_its_own_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someones-real-account")
    before_env, before_cwd = dict(os.environ), os.getcwd()

    result = _environment(tmp_path, STAGE="prod").invoke({}, trigger="t")

    assert result.response["stage"] == "prod"
    assert result.response["cwd"] == str(CODE)  # Lambda runs in the task root
    assert result.response["function"] == "mini-Who"
    assert 0 < result.response["remaining_ms"] <= 5000
    assert result.response["aws_profile"] is None  # the caller's AWS settings stay out
    assert dict(os.environ) == before_env
    assert os.getcwd() == before_cwd


def test_tracing_is_off_in_every_function_whatever_its_template_says(tmp_path: Path) -> None:
    environment = _environment(tmp_path, POWERTOOLS_TRACE_DISABLED="false")

    assert environment.environ["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert environment.environ["AWS_LAMBDA_FUNCTION_NAME"] == "mini-Who"


def test_missing_handler_module_is_a_runtime_import_error(tmp_path: Path) -> None:
    result = _environment(tmp_path, handler="miniapp.nowhere.handler").invoke({}, trigger="t")

    assert result.error is not None
    assert result.error.type == "Runtime.ImportModuleError"
    assert not result.ok


def test_missing_handler_function_is_handler_not_found(tmp_path: Path) -> None:
    result = _environment(tmp_path, handler="miniapp.handlers.absent").invoke({}, trigger="t")

    assert result.error is not None
    assert result.error.type == "Runtime.HandlerNotFound"


def test_response_that_is_not_json_is_a_marshal_error(tmp_path: Path) -> None:
    environment = _environment(tmp_path, handler="miniapp.handlers.unserializable")

    result = environment.invoke({}, trigger="t")

    assert result.error is not None
    assert result.error.type == "Runtime.MarshalError"


def test_output_of_each_call_goes_to_the_function_log(tmp_path: Path) -> None:
    environment = _environment(tmp_path, handler="miniapp.handlers.ingest")

    result = environment.invoke({"Records": [{"Sns": {"Message": "{"}}]}, trigger="bad input")

    assert result.error is not None
    assert result.error.type == "JSONDecodeError"
    assert "START RequestId" in result.log
    assert "(bad input)" in result.log
    assert "[ERROR] JSONDecodeError" in result.log
    assert result.log == (tmp_path / "who.log").read_text()


def test_logging_of_two_functions_goes_to_each_function_log(tmp_path: Path) -> None:
    first = _environment(tmp_path, handler="miniapp.handlers.log_line")
    second = ExecutionEnvironment(
        replace(first.spec, logical_id="Other"),
        base_environ={},
        log_path=tmp_path / "other.log",
    )

    first.invoke({"line": "from the first"}, trigger="t")
    second.invoke({"line": "from the second"}, trigger="t")

    first_log, second_log = (tmp_path / "who.log").read_text(), (tmp_path / "other.log").read_text()
    assert "from the first" in first_log
    assert "from the second" not in first_log
    assert "from the second" in second_log


def test_log_path_relative_to_the_caller_stays_there_while_the_function_runs_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = _environment(tmp_path).spec
    environment = ExecutionEnvironment(spec, base_environ={}, log_path=Path("out/who.log"))

    result = environment.invoke({}, trigger="t")

    assert result.ok
    assert "START RequestId" in (tmp_path / "out" / "who.log").read_text()


def test_logger_the_caller_configured_first_is_not_the_functions(tmp_path: Path) -> None:
    caller = logging.getLogger("miniapp")
    caller.addHandler(logging.NullHandler())  # what the caller did with its own logger
    try:
        environment = _environment(tmp_path, handler="miniapp.handlers.log_line")

        environment.invoke({"line": "into the function log"}, trigger="t")

        assert "into the function log" in (tmp_path / "who.log").read_text()
        assert logging.getLogger("miniapp") is caller
    finally:
        caller.handlers.clear()

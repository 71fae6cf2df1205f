"""Lambda execution environments, in this process.

Each function of the template gets one warm execution environment for the whole replay, as
Lambda would keep one: its CodeUri on the import path, its own copy of the modules loaded from
there (module-level caches of one function are not seen by another, nor by the caller), its
environment variables, a Lambda context, and its standard output captured into its own log
file. Nothing here knows what the functions do.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from acceptor_tools.replay.app import FunctionSpec

# The variables Lambda and `sam local` set. No AWS config or credentials file of this machine is
# read, as in Lambda.
_RUNTIME_CONSTANTS = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_SAM_LOCAL": "true",
    "TZ": ":UTC",
}
# Set after the function's own variables, whatever the template says: AWS_LAMBDA_FUNCTION_NAME
# makes Powertools' Tracer believe it runs in Lambda, and no X-Ray daemon listens here.
_REPLAY_OVERRIDES = {"POWERTOOLS_TRACE_DISABLED": "true"}


@dataclass
class LambdaContext:
    """The attributes and method of the context object Lambda passes to a Python handler."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "replay"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass(frozen=True)
class FunctionError:
    type: str
    message: str

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass(frozen=True)
class Invocation:
    """One call of a handler, as the replay saw it."""

    function: str
    request_id: str
    trigger: str
    event: Any
    response: Any = None
    error: FunctionError | None = None
    duration_ms: float = 0.0
    timed_out: bool = False
    """The call took longer than the function's Timeout (Lambda would have stopped it)."""
    log: str = ""
    """What the handler wrote during this call."""

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out


class FunctionLog(io.TextIOBase):
    """One function's log file; each write appends to it."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        # Absolute: functions run in their own folder, not in the caller's.
        self.path = path.resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self.path.open("a", encoding="utf-8") as file:
            return file.write(text)

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def read_from(self, offset: int) -> str:
        with self.path.open("rb") as file:
            file.seek(offset)
            return file.read().decode("utf-8", errors="replace")


class _Output(io.TextIOBase):
    """Standard output and error of every environment: writes go to the log of the function
    running now. One stream for all, because what a function's modules hand to the `logging`
    module (Powertools' handler, made on first import with the stream of that moment) is shared
    by every environment of the process: `logging` is one per process here, unlike in Lambda.
    """

    def __init__(self) -> None:
        super().__init__()
        self.current: FunctionLog | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        # Between calls (a stray thread, interpreter exit) the replay's own stderr gets it.
        return (self.current or sys.__stderr__ or sys.stderr).write(text)


_OUTPUT = _Output()


class ExecutionEnvironment:
    """One function's warm environment; `invoke` calls its handler like Lambda does."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        base_environ: Mapping[str, str],
        log_path: Path,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.spec = spec
        self._environ = self._function_environ(base_environ)
        self._log = FunctionLog(log_path)
        self._clock = clock
        self._root = os.path.join(str(spec.code_dir), "")
        self._modules: dict[str, ModuleType] = {}
        self._loggers: dict[str, Any] = {}
        service = self._environ.get("POWERTOOLS_SERVICE_NAME")
        packages = {p.stem for p in spec.code_dir.iterdir() if _importable(p)}
        self._logger_prefixes = tuple(sorted(packages | ({service} if service else set())))
        self._handler: Callable[[Any, Any], Any] | None = None

    def _function_environ(self, base: Mapping[str, str]) -> dict[str, str]:
        spec = self.spec
        # The replay's own AWS settings (a profile, real keys) never reach a function.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        return {
            **inherited,
            **_RUNTIME_CONSTANTS,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "replay",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            **base,
            **spec.environment,
            **_REPLAY_OVERRIDES,
        }

    def with_environment(self, overrides: Mapping[str, str]) -> None:
        self._environ.update(overrides)

    @property
    def environ(self) -> Mapping[str, str]:
        return dict(self._environ)

    def invoke(self, event: Any, *, trigger: str) -> Invocation:
        payload = json.loads(json.dumps(event))
        context = LambdaContext(
            function_name=self.spec.name,
            invoked_function_arn=self.spec.arn,
            memory_limit_in_mb=self.spec.memory,
            timeout_seconds=self.spec.timeout,
            log_group_name=f"/aws/lambda/{self.spec.name}",
        )
        log = self._log
        start_offset = log.size()
        log.write(f"START RequestId: {context.aws_request_id} ({trigger})\n")
        started = self._clock()
        with self._active(log):
            response, error = self._call(payload, context)
        duration_ms = (self._clock() - started) * 1000
        log.write(f"END RequestId: {context.aws_request_id} {duration_ms:.1f} ms\n")
        text = log.read_from(start_offset)
        return Invocation(
            function=self.spec.logical_id,
            request_id=context.aws_request_id,
            trigger=trigger,
            event=payload,
            response=response,
            error=error,
            duration_ms=duration_ms,
            timed_out=duration_ms > self.spec.timeout * 1000,
            log=text,
        )

    def _call(self, payload: Any, context: LambdaContext) -> tuple[Any, FunctionError | None]:
        try:
            handler = self._load()
        except ImportError as err:
            return None, FunctionError("Runtime.ImportModuleError", str(err))
        except AttributeError as err:
            return None, FunctionError("Runtime.HandlerNotFound", str(err))
        try:
            response = handler(payload, context)
        except KeyboardInterrupt:
            raise
        # The Lambda runtime's own boundary: any error a handler raises becomes a function error
        # that the caller routes (retries, batch failure, dead-letter queue); nothing is dropped.
        except Exception as err:  # noqa: BLE001
            # What Lambda writes to the function's log for an unhandled error.
            print(f"[ERROR] {type(err).__name__}: {err}\n{traceback.format_exc()}", file=sys.stderr)
            return None, FunctionError(type(err).__name__, str(err))
        try:
            return json.loads(json.dumps(response)), None
        except (TypeError, ValueError) as err:
            return None, FunctionError("Runtime.MarshalError", str(err))

    def _load(self) -> Callable[[Any, Any], Any]:
        if self._handler is None:
            module_name, _, function_name = self.spec.handler.rpartition(".")
            if not module_name:
                raise ImportError(f"handler {self.spec.handler!r} is not module.function")
            module = importlib.import_module(module_name)
            self._handler = getattr(module, function_name)
        return self._handler

    @contextlib.contextmanager
    def _active(self, log: FunctionLog) -> Iterator[None]:
        """This function's modules, path, variables, folder and output; all restored after."""
        saved_environ = dict(os.environ)
        saved_cwd = os.getcwd()
        outside = {name: sys.modules.pop(name) for name in self._owned(sys.modules)}
        sys.modules.update(self._modules)
        registry = logging.Logger.manager.loggerDict
        outside_loggers = {name: registry.pop(name) for name in self._own_loggers(registry)}
        registry.update(self._loggers)
        known_loggers = set(registry)
        sys.path.insert(0, str(self.spec.code_dir))
        importlib.invalidate_caches()
        os.environ.clear()
        os.environ.update(self._environ)
        os.chdir(self.spec.code_dir)
        running_before, _OUTPUT.current = _OUTPUT.current, log
        try:
            with (
                contextlib.redirect_stdout(_OUTPUT),
                contextlib.redirect_stderr(_OUTPUT),
                warnings.catch_warnings(),
            ):
                # Warnings are printed to the function's log, as the Lambda runtime does.
                warnings.simplefilter("default")
                warnings.showwarning = _print_warning
                yield
        finally:
            _OUTPUT.current = running_before
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_environ)
            sys.path.remove(str(self.spec.code_dir))
            self._modules = {name: sys.modules.pop(name) for name in self._owned(sys.modules)}
            sys.modules.update(outside)
            created = [name for name in registry if name not in known_loggers]
            owned = set(self._own_loggers(registry)) | set(created)
            self._loggers = {name: registry.pop(name) for name in owned}
            registry.update(outside_loggers)

    def _own_loggers(self, registry: Mapping[str, Any]) -> list[str]:
        """Loggers of this function: named after its packages or its Powertools service, or
        made during its calls. Each environment has its own, as each process has in Lambda;
        otherwise a logger the caller (or another function) configured first, with its
        stream, would be reused (Powertools reuses a configured logger of the same name)."""
        prefixes = self._logger_prefixes
        return [
            name
            for name in list(registry)
            if name in self._loggers or any(name == p or name.startswith(p + ".") for p in prefixes)
        ]

    def _owned(self, modules: Mapping[str, ModuleType]) -> list[str]:
        owned = []
        for name, module in list(modules.items()):
            where = getattr(module, "__file__", None)
            paths = list(getattr(module, "__path__", None) or ())
            locations = [where] if where else paths
            if any(str(p).startswith(self._root) for p in locations):
                owned.append(name)
        return owned


def _print_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    print(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr)


def _importable(path: Path) -> bool:
    """A top-level module or package of a CodeUri folder."""
    if path.is_dir():
        return (path / "__init__.py").exists() and path.name.isidentifier()
    return path.suffix == ".py" and path.stem.isidentifier()

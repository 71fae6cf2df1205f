"""Cold start per handler on python3.13, from the `sam build` artifact, against a floor.

Goal (docs/architecture.md, "Cold start"): each handler's import plus its first policy load
(the starter policy, from the built PolicyLayer) costs no more than the floor: a bare handler
that imports boto3 and the Powertools Logger, compiled from source (no bytecode), as every
function was before the artifacts shipped bytecode.

Each figure is a fresh python3.13 process timing its own import and load (interpreter start-up
is the same for all and is left out), with the artifact as its code and Lambda's environment
variables; the median of 5. The artifact is `make sam-build`'s (.aws-sam/check/build), built
first if it is missing. Without a working python3.13 the benchmark says so and measures nothing.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "check" / "build"
HOST_BUILD = ROOT / ".aws-sam" / "check" / "bench-host"
RUNS = 5
HANDLERS = {
    "IngestFunction": "acceptor.handlers.ingest",
    "ReconcileFunction": "acceptor.handlers.reconcile",
    "DecideFunction": "acceptor.handlers.decide",
    "SecurityGroupsFunction": "acceptor.handlers.security_groups",
    "NotifyFunction": "acceptor.handlers.notify",
}
# What Lambda sets (template.yaml's Globals and the runtime), so that Powertools and the X-Ray
# SDK set themselves up at import as they do there.
LAMBDA_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "POWERTOOLS_SERVICE_NAME": "privatelink-acceptor",
    "POWERTOOLS_METRICS_NAMESPACE": "PrivateLinkAcceptor",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "AWS_EC2_METADATA_DISABLED": "true",
}
HANDLER_PROBE = """
import json, sys, time
started = time.perf_counter()
import importlib
importlib.import_module(sys.argv[1])
imported = time.perf_counter()
from acceptor.policy.loader import cached_policy
cached_policy(sys.argv[2])
loaded = time.perf_counter()
print(json.dumps({"import": imported - started, "total": loaded - started}))
"""
FLOOR_HANDLER = """
import boto3
from aws_lambda_powertools import Logger

logger = Logger()


def handler(event, context):
    return {"boto3": boto3.__version__}
"""
FLOOR_PROBE = """
import json, time
started = time.perf_counter()
import floor_handler
done = time.perf_counter()
print(json.dumps({"import": done - started, "total": done - started}))
"""


def python313() -> str | None:
    candidates = [shutil.which("python3.13")]
    pyenv = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(f"{pyenv}/versions/3.13*/bin/python3.13"))
    for candidate in filter(None, candidates):
        works = subprocess.run([candidate, "-c", ""], capture_output=True, check=False)
        if works.returncode == 0:
            return candidate
    return None


def ensure_artifacts() -> bool:
    if all((BUILD / name / "acceptor").is_dir() for name in HANDLERS):
        return True
    print("building the artifacts first: make sam-build")
    built = subprocess.run(["make", "-C", str(ROOT), "sam-build"], check=False)
    return built.returncode == 0 and (BUILD / "DecideFunction" / "acceptor").is_dir()


def host_artifact(python: str, built: Path) -> Path | None:
    """The artifact, runnable here. `sam build` fetches the wheels of Lambda's architecture
    (arm64); on another machine pydantic-core's native module would not load, so the same
    build step (functions/Makefile) runs again with this machine's wheels. None on failure."""
    machine = platform.machine()
    if machine in {"aarch64", "arm64"}:
        return built
    HOST_BUILD.mkdir(parents=True, exist_ok=True)
    target = Path(tempfile.mkdtemp(dir=HOST_BUILD))
    done = subprocess.run(
        [
            "make", "--no-print-directory", "-C", str(ROOT / "functions"), "build-DecideFunction",
            f"ARTIFACTS_DIR={target}", f"PYTHON={python}", f"PLATFORM=manylinux2014_{machine}",
        ],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        print(done.stderr[-2000:])
        return None
    return target


def probe(
    python: str, code: str, path: list[Path], args: list[str], **extra: str
) -> dict[str, float]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        **LAMBDA_ENVIRONMENT,
        "PYTHONPATH": os.pathsep.join(str(p) for p in path),
        **extra,
    }
    done = subprocess.run(
        [python, "-c", code, *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe failed: {done.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def median(python: str, code: str, path: list[Path], args: list[str], **extra: str) -> float:
    return statistics.median(probe(python, code, path, args, **extra)["total"] for _ in range(RUNS))


def size_mb(folder: Path, *names: str) -> float:
    paths = [folder / name for name in names] if names else [folder]
    total = 0
    for path in paths:
        total += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return total / 1e6


def main() -> None:
    python = python313()
    if python is None:
        print("SKIPPED: no working python3.13 (the Lambda runtime) on PATH or under pyenv")
        return
    if not ensure_artifacts():
        print("SKIPPED: the sam build artifacts could not be built (make sam-build)")
        return
    policies = BUILD / "PolicyLayer" / "policies"
    built = BUILD / "DecideFunction"
    decide = host_artifact(python, built)
    if decide is None:
        print("SKIPPED: the artifact could not be built for this machine (functions/Makefile)")
        return
    try:
        measure(python, decide, policies)
    finally:
        if decide != built:
            shutil.rmtree(decide, ignore_errors=True)
    sdk = size_mb(built, "boto3", "botocore", "s3transfer")
    print(
        f"DecideFunction artifact: {size_mb(built):.1f} MB unzipped, of which boto3 + botocore "
        f"+ s3transfer {sdk:.1f} MB (without them: {size_mb(built) - sdk:.1f} MB)"
    )


def measure(python: str, decide: Path, policies: Path) -> None:
    """`decide` is one function's artifact: the five are the same code, with other handlers."""
    with tempfile.TemporaryDirectory() as scratch:
        floor_dir = Path(scratch, "floor")
        floor_dir.mkdir()
        (floor_dir / "floor_handler.py").write_text(FLOOR_HANDLER)
        empty_cache = Path(scratch, "no-bytecode")
        # The floor: boto3 and Powertools from the same artifact, but compiled from source
        # (-B, and a bytecode cache folder that is empty, so no shipped .pyc is read).
        floor = median(
            python,
            FLOOR_PROBE,
            [floor_dir, decide],
            [],
            PYTHONPYCACHEPREFIX=str(empty_cache),
            PYTHONDONTWRITEBYTECODE="1",
        )
        boto3_compiled = median(python, FLOOR_PROBE.replace("floor_handler", "boto3"), [decide], [])
        boto3_source = median(
            python,
            FLOOR_PROBE.replace("floor_handler", "boto3"),
            [decide],
            [],
            PYTHONPYCACHEPREFIX=str(empty_cache),
            PYTHONDONTWRITEBYTECODE="1",
        )
        print(f"python: {python}; median of {RUNS} fresh processes each")
        print(f"floor: bare boto3 + Powertools Logger handler, from source: {floor * 1000:7.0f} ms")
        print(f"{'function':<24} {'import + first policy load':>28} {'vs floor':>9}")
        met = True
        for name, module in HANDLERS.items():
            figure = median(
                python,
                HANDLER_PROBE,
                [decide],
                [module, str(policies)],
                POLICY_PATH=str(policies),
                PYTHONDONTWRITEBYTECODE="1",
            )
            met = met and figure <= floor
            print(f"{name:<24} {figure * 1000:>25.0f} ms {figure / floor:>8.2f}x")
        print(f"goal: every function at or under the floor -> {'met' if met else 'NOT met'}")
        print()
        print(f"import boto3 alone: {boto3_compiled * 1000:.0f} ms with the shipped bytecode, "
              f"{boto3_source * 1000:.0f} ms from source")  # fmt: skip


if __name__ == "__main__":
    main()

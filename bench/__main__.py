"""Run every benchmark module (`bench/bench_*.py`) in name order, a header before each."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def benchmark_modules() -> list[str]:
    folder = Path(__file__).parent
    return sorted(
        f"bench.{module.name}"
        for module in pkgutil.iter_modules([str(folder)])
        if module.name.startswith("bench_")
    )


def main() -> int:
    names = benchmark_modules()
    for number, name in enumerate(names):
        module = importlib.import_module(name)
        title = (module.__doc__ or name).strip().splitlines()[0]
        if number:
            print()
        print(f"== {name}: {title}")
        started = time.perf_counter()
        module.main()
        print(f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

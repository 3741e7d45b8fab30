"""Run every benchmark with its default arguments: ``python -m benchmarks`` (``make bench``).

Prints tables; never pass/fail. Each benchmark can also be run alone: ``python -m benchmarks.bench_ntk --help``.
"""
from __future__ import annotations

import importlib
import pkgutil
import platform
import sys
import time
from pathlib import Path

import torch


def main():
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    print(f"# ntk_explorer benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, python {platform.python_version()}, "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}")
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n## {name}\n", flush=True)
        saved = sys.argv
        sys.argv = [name]
        try:
            module.main()
        finally:
            sys.argv = saved


if __name__ == "__main__":
    main()

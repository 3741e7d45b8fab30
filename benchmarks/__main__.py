"""Run every benchmark: ``python -m benchmarks [--quick]`` (``make bench``). Prints tables; never pass/fail."""
from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("bench_"))
    print(f"# ntk_explorer benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, modules: {', '.join(names)}\n")
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"\n## {name}\n")
        module.main([a for a in argv if a in ("--quick",)])


if __name__ == "__main__":
    main()

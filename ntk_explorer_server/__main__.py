"""``python -m ntk_explorer_server install-data``: copies the package's Jupyter data files into this environment.

A wheel install (``pip install .``) puts them in place itself (``[tool.setuptools.data-files]``); an editable
install (``pip install -e .``: ``make setup``, binder/postBuild) does not (setuptools skips data files in editable
mode), so those run this once after installing.  ``check`` reports whether they are in place.  Files: the switch
that enables the Jupyter server extension (``etc/jupyter/jupyter_server_config.d/ntk_explorer_server.json``) and
the Voilà template ``ntk`` (``share/jupyter/voila/templates/ntk``).
"""
from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]  # the checkout (an editable install runs from it)
DATA_FILES = ("etc/jupyter/jupyter_server_config.d/ntk_explorer_server.json",
              "share/jupyter/voila/templates/ntk/conf.json",
              "share/jupyter/voila/templates/ntk/index.html.j2")


def missing(prefix: Path = Path(sys.prefix)) -> list:
    """The data files absent from ``prefix`` or different from the checkout's."""
    return [name for name in DATA_FILES
            if not (prefix / name).is_file()
            or ((SOURCE / name).is_file() and not filecmp.cmp(SOURCE / name, prefix / name, shallow=False))]


def install(prefix: Path = Path(sys.prefix)) -> list:
    """Copies the checkout's data files into ``prefix``; returns the paths written."""
    absent = [name for name in DATA_FILES if not (SOURCE / name).is_file()]
    if absent:
        raise SystemExit(f"not a checkout of ntk_explorer (missing {absent}): a wheel install has its data files")
    written = []
    for name in DATA_FILES:
        target = prefix / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SOURCE / name, target)
        written.append(target)
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ntk_explorer_server", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["install-data", "check"])
    args = parser.parse_args(argv)
    if args.command == "install-data":
        for path in install():
            print(f"wrote {path}")
        return 0
    absent = missing()
    for name in absent:
        print(f"missing or outdated in {sys.prefix}: {name} (run: python -m ntk_explorer_server install-data)")
    return 1 if absent else 0


if __name__ == "__main__":
    sys.exit(main())

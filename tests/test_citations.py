"""Citations a reader can follow: no internal source-file names anywhere in the project, and a references page.

The theory notes the project was written from were kept under private file names; a student cannot look those up.
Every tracked text file must cite the published paper (with the paper's own theorem or section) or published notes
by author and title instead. docs/references.md lists them, and README.md links to it.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEXT_SUFFIXES = {".py", ".md", ".ipynb", ".txt", ".toml", ".cfg", ".j2", ".html", ".json", ".yml", ".yaml"}
TEXT_NAMES = {"Makefile"}
# The word, an optional space and 000 … 049, or the word, a space and "00"; the file's own strings split the word
# ("se" "ed") so that this file does not match itself.
INTERNAL_NAME = re.compile(r"seed ?0[0-4][0-9]|seed" + r" 00", re.IGNORECASE)
WORD = "se" "ed"


def tracked_text_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: cannot list the tracked files")
    paths = [Path(p) for p in out.decode().split("\0") if p]
    return [p for p in paths if (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES) and (ROOT / p).is_file()]


def internal_references(text: str) -> list[tuple[int, str]]:
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), 1) if INTERNAL_NAME.search(line)]


@pytest.mark.parametrize("text, found", [
    (f"as in {WORD} 000 Thm 2.1", True), (f"({WORD.title()} 004's two-layer bound)", True),
    (f"{WORD}001 eq. 14", True), (f"{WORD} 00", True), (f"torch.manual_{WORD}(0)", False),
    (f"{WORD} 0, 1, 2", False), (f"{WORD}=42", False),
])
def test_the_pattern_finds_internal_names_and_not_random_seeds(text, found):
    assert bool(internal_references(text)) == found


def test_no_tracked_file_cites_internal_source_names():
    files = tracked_text_files()
    assert len(files) > 20, f"only {len(files)} tracked text files found: is this the project root?"
    hits = []
    for path in files:
        text = (ROOT / path).read_text(encoding="utf-8", errors="replace")
        hits += [f"{path}:{number}: {line[:100]}" for number, line in internal_references(text)]
    assert not hits, ("internal source names instead of published citations (see docs/references.md):\n"
                      + "\n".join(hits))


def test_references_page_lists_the_papers_and_readme_links_it():
    references = (ROOT / "docs" / "references.md").read_text(encoding="utf-8")
    for arxiv_id in ("1902.06720", "1806.07572", "2110.03922", "1812.07956", "2011.14522", "1904.11955",
                     "2206.12543", "2010.01092", "1909.11304", "1909.08156", "1906.08034", "1912.02803",
                     "2002.02561", "1911.00809", "2003.02237"):
        assert f"arxiv.org/abs/{arxiv_id}" in references, f"docs/references.md lacks arXiv:{arxiv_id}"
    assert "](docs/references.md)" in (ROOT / "README.md").read_text(encoding="utf-8")

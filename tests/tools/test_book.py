"""The front door: the README stays short and its links name files of the repository, and every
page of the book's SUMMARY.md exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def test_the_readme_is_a_front_door_of_at_most_200_lines():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail into the book under docs/"


def test_every_relative_link_of_the_readme_names_a_file_of_the_repository():
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    local = [t for t in targets if "://" not in t]
    assert len(local) >= 20, local
    assert [t for t in local if not (REPO / t).exists()] == []


def test_every_page_of_the_summary_exists():
    summary = (REPO / "docs" / "SUMMARY.md").read_text()
    pages = re.findall(r"\]\(([^)]+\.md)\)", summary)
    assert len(pages) >= 30, pages
    assert [p for p in pages if not (REPO / "docs" / p).is_file()] == []

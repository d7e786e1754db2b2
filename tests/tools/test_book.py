"""The front door and the book's links: the README stays short and its links name files of the
repository, and the link check over the built book (scripts/lib/book_links.py) finds a missing
page and a missing anchor."""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "lib"))

import book_links  # noqa: E402

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


def write_book(root: Path, pages: dict[str, str]) -> Path:
    for name, html in pages.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"<html><body>{html}</body></html>")
    return root


def test_given_links_to_pages_and_anchors_that_exist_then_none_is_broken(tmp_path):
    book = write_book(tmp_path, {
        "index.html": '<a href="guides/prune.html#the-guard">guard</a> <a href="https://aws.amazon.com/">AWS</a>',
        "guides/prune.html": '<h2 id="the-guard">The guard</h2><a href="../index.html">home</a><a href="#the-guard">here</a>',
    })
    assert book_links.broken_links(book) == []


def test_given_a_missing_page_and_a_missing_anchor_then_each_is_named(tmp_path):
    book = write_book(tmp_path, {
        "index.html": '<a href="guides/gone.html">gone</a> <a href="guides/prune.html#no-such-heading">x</a>',
        "guides/prune.html": '<h2 id="the-guard">The guard</h2>',
        "print.html": '<a href="#anything">mdBook\'s own page, not checked</a>',
    })
    assert book_links.broken_links(book) == [
        "index.html: guides/gone.html (no such page)",
        "index.html: guides/prune.html#no-such-heading (no such anchor)",
    ]

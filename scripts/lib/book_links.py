"""Fails on a broken internal link or anchor in the built book (dist/book/).

A short check over the HTML that mdBook wrote, because no maintained link checker fits the pinned
mdBook: mdbook-linkcheck's last release supports mdBook ^0.4 only, and checks no anchors. Every
relative link of every page must name a file of the book, and its #fragment an id in that file.
Links to other sites are not followed (the book is built offline).

    python scripts/lib/book_links.py [dist/book]
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# mdBook's own pages: print.html repeats every chapter, and 404.html links from the site root.
SKIPPED = {"print.html", "404.html", "toc.html"}


class Page(HTMLParser):
    """The ids a page defines and the hrefs it links to."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"])
        if tag == "a" and found.get("href"):
            self.hrefs.append(found["href"])


def read(path: Path, cache: dict[Path, Page]) -> Page:
    if path not in cache:
        page = Page()
        page.feed(path.read_text(encoding="utf-8"))
        cache[path] = page
    return cache[path]


def broken_links(book: Path) -> list[str]:
    """Each broken link as `page: href (why)`."""
    cache: dict[Path, Page] = {}
    problems = []
    for path in sorted(book.rglob("*.html")):
        if path.name in SKIPPED:
            continue
        for href in read(path, cache).hrefs:
            link = urlsplit(href)
            if link.scheme or link.netloc:
                continue
            target = (path.parent / unquote(link.path)).resolve() if link.path else path
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(book)}: {href}"
            if not target.is_file():
                problems.append(f"{where} (no such page)")
            elif link.fragment and target.suffix == ".html" and unquote(link.fragment) not in read(target, cache).ids:
                problems.append(f"{where} (no such anchor)")
    return problems


def main() -> int:
    book = Path(sys.argv[1] if len(sys.argv) > 1 else "dist/book")
    problems = broken_links(book)
    for problem in problems:
        print(f"broken link: {problem}", file=sys.stderr)
    pages = sum(1 for _ in book.rglob("*.html"))
    print(f"book links: {len(problems)} broken in {pages} pages of {book}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

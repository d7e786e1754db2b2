"""docs/aws-facts.md against the emulator's patches: every patch in `patches.PATCHES` (which
includes local_aws_patches') is named in the patch column of some row, every name in a patch
column is a registered patch, every row has a source that names an https URL or starts with
`unverified:` (and any unverified part says what happens `if wrong:`), and ids are unique."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "aws-facts.md"

# The emulator's modules import each other by bare name (pytest puts tests/emulator on sys.path
# for the tests there); do the same here.
sys.path.insert(0, str(REPO / "tests" / "emulator"))

COLUMNS = ["id", "fact", "relied on by", "patch", "source"]
NO_PATCH = "—"
ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")
PATCH_NAME = re.compile(r"^`([A-Za-z_][A-Za-z0-9_]*)`$")


@dataclass(frozen=True)
class Row:
    line: int
    id: str
    fact: str
    relied_on_by: str
    patch: str
    source: str


def _cells(line: str) -> list[str]:
    """The cells of a table line, `\\|` kept as a literal bar."""
    inner = line.strip()
    inner = inner[1:-1] if inner.endswith("|") else inner[1:]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", inner)]


def parse(text: str) -> tuple[list[Row], list[str]]:
    """The rows of every table whose header is COLUMNS, and the problems met reading them."""
    rows: list[Row] = []
    problems: list[str] = []
    in_table = False
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.lstrip().startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if [c.lower() for c in cells] == COLUMNS:
            in_table = True
            continue
        if not in_table or all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            problems.append(f"line {number}: {len(cells)} cells, expected {len(COLUMNS)}")
            continue
        rows.append(Row(number, *cells))
    return rows, problems


def patch_names(cell: str) -> tuple[list[str], list[str]]:
    """The patch names in a patch cell, and what in it is not a name."""
    if cell == NO_PATCH:
        return [], []
    names, bad = [], []
    for part in (p.strip() for p in cell.split(",")):
        match = PATCH_NAME.match(part)
        if match:
            names.append(match.group(1))
        else:
            bad.append(part)
    return names, bad


def check(text: str, registered: set[str]) -> list[str]:
    """Every problem of the page against the registered patch names; empty when it is right."""
    rows, problems = parse(text)
    if not rows:
        problems.append("no table rows found")
    seen: dict[str, int] = {}
    named: set[str] = set()
    for row in rows:
        where = f"line {row.line} ({row.id or 'no id'})"
        if not ID.match(row.id):
            problems.append(f"{where}: id is not of the form area-short-name")
        if row.id in seen:
            problems.append(f"{where}: id already used on line {seen[row.id]}")
        seen.setdefault(row.id, row.line)
        for column in ("fact", "relied_on_by", "patch"):
            if not getattr(row, column):
                problems.append(f"{where}: empty {column.replace('_', ' ')}")
        names, bad = patch_names(row.patch)
        for part in bad:
            problems.append(f"{where}: patch cell has {part!r}, not `name`, ... or {NO_PATCH}")
        for name in names:
            if name not in registered:
                problems.append(f"{where}: `{name}` is not a registered patch")
        named.update(names)
        if not (re.search(r"https://\S+", row.source) or row.source.startswith("unverified:")):
            problems.append(f"{where}: source is neither an https URL nor 'unverified: ...'")
        elif "unverified:" in row.source and "if wrong:" not in row.source:
            problems.append(f"{where}: an unverified source must say what happens 'if wrong:'")
    for name in sorted(registered - named):
        problems.append(f"patch `{name}` is named in no row of the page")
    return problems


@pytest.fixture(scope="module")
def registered() -> set[str]:
    import patches

    return {patch.__name__ for patch in patches.PATCHES}


def test_the_page_names_every_registered_patch_and_only_those(registered):
    assert check(PAGE.read_text(encoding="utf-8"), registered) == []


def test_the_local_aws_patches_are_among_those_checked(registered):
    import local_aws_patches

    assert {patch.__name__ for patch in local_aws_patches.PATCHES} <= registered


def test_given_a_patch_missing_from_the_page_then_the_check_names_it(registered):
    text = PAGE.read_text(encoding="utf-8")
    victim = "peering_state_progression"
    assert victim in registered
    cut = text.replace(f"`{victim}`, ", "").replace(f", `{victim}`", "").replace(f"`{victim}`", NO_PATCH)
    assert f"`{victim}`" not in cut
    assert f"patch `{victim}` is named in no row of the page" in check(cut, registered)


def test_given_an_unknown_name_a_bad_source_or_a_repeated_id_then_the_check_says_so():
    header = "| id | fact | relied on by | patch | source |\n|---|---|---|---|---|\n"
    page = header + (
        "| a-one | f | r | `known` | https://example.com/x |\n"
        "| a-one | f | r | `unknown_patch` | somewhere |\n"
        "| a-two | f | r | known | unverified: a guess |\n"
    )
    problems = check(page, {"known"})
    assert any("id already used" in p for p in problems)
    assert any("`unknown_patch` is not a registered patch" in p for p in problems)
    assert any("neither an https URL" in p for p in problems)
    assert any("not `name`" in p for p in problems)
    assert any("'if wrong:'" in p for p in problems)


def test_a_bar_escaped_in_a_cell_does_not_split_it():
    header = "| id | fact | relied on by | patch | source |\n|---|---|---|---|---|\n"
    rows, problems = parse(header + "| a-one | x \\| y | r | — | https://example.com |\n")
    assert problems == [] and rows[0].fact == "x | y"

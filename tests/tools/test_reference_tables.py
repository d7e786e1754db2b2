"""The book's reference tables against their sources: the generated ones (errors, stack
parameters; scripts/lib/reference_tables.py) are what their sources give now, and the hand-written
request table names exactly the request fields of the contract."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "lib"))

import reference_tables  # noqa: E402

STATE_RS = REPO / "lambdas/common/src/contract/state.rs"
REQUEST_PAGE = REPO / "docs/reference/request.md"
ERRORS_PAGE = REPO / "docs/reference/errors.md"


def test_given_the_sources_then_every_generated_table_is_what_they_give():
    stale = reference_tables.stale_pages()
    assert not stale, f"{[str(p.relative_to(REPO)) for p in stale]} differ from their sources; run: {reference_tables.REGENERATE}"


def test_given_an_error_variant_added_then_the_errors_page_is_stale(tmp_path, monkeypatch):
    source = reference_tables.ERRORS_RS.read_text()
    added = source.replace(
        "    StateTableNotSet,\n",
        "    StateTableNotSet,\n\n    /// A new way to fail.\n    #[error(\"new\")]\n    NewFailure,\n",
    ).replace("Error::StateTableNotSet => \"StateTableNotSet\",", "Error::StateTableNotSet => \"StateTableNotSet\",\n            Error::NewFailure => \"NewFailure\",")
    assert added.count("NewFailure") == 3
    monkeypatch.setattr(reference_tables, "ERRORS_RS", tmp_path / "error.rs")
    reference_tables.ERRORS_RS.write_text(added)
    assert ERRORS_PAGE in reference_tables.stale_pages()
    assert "| `NewFailure` | A new way to fail. | not retried:" in reference_tables.errors_table()


def test_given_an_error_variant_without_a_doc_comment_then_the_generator_refuses_it(tmp_path, monkeypatch):
    source = reference_tables.ERRORS_RS.read_text().replace("    StateTableNotSet,\n", "    StateTableNotSet,\n    Undocumented,\n")
    monkeypatch.setattr(reference_tables, "ERRORS_RS", tmp_path / "error.rs")
    reference_tables.ERRORS_RS.write_text(source)
    try:
        reference_tables.errors_table()
    except SystemExit as refused:
        assert "Undocumented needs a doc comment" in str(refused)
    else:
        raise AssertionError("an undocumented variant was given a row")


def test_given_a_parameter_added_to_the_template_then_the_parameters_page_is_stale(tmp_path, monkeypatch):
    template = reference_tables.TEMPLATE.read_text().replace(
        "Parameters:\n", "Parameters:\n  NewKnob:\n    Type: String\n    Description: A new knob.\n    Default: \"off\"\n", 1
    )
    monkeypatch.setattr(reference_tables, "TEMPLATE", tmp_path / "template.yaml")
    reference_tables.TEMPLATE.write_text(template)
    assert REPO / "docs/reference/stack-parameters.md" in reference_tables.stale_pages()
    assert "| `NewKnob` | `off` |  | A new knob. |" in reference_tables.parameters_table()


def request_fields() -> set[str]:
    """The request's fields: the part of PeeringState before what `peer` and `get-status` add."""
    source = STATE_RS.read_text()
    block = source.split("// The request:", 1)[1].split("// What `peer` and `get-status` add.", 1)[0]
    names = re.findall(r"^    pub (\w+):", block, flags=re.M)
    return {re.sub(r"_(\w)", lambda m: m.group(1).upper(), name) for name in names}


def documented_request_fields() -> set[str]:
    """The fields the request page's first table names, in its first column."""
    lines = REQUEST_PAGE.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| field |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return {name for row in rows for name in re.findall(r"`(\w+)`", row.split("|")[1])}


def test_the_request_page_names_exactly_the_request_fields_of_the_contract():
    in_code, on_page = request_fields(), documented_request_fields()
    assert len(in_code) >= 20, in_code
    assert in_code - on_page == set(), f"request fields with no row in {REQUEST_PAGE.relative_to(REPO)}: add one"
    assert on_page - in_code == set(), f"rows in {REQUEST_PAGE.relative_to(REPO)} for fields the contract does not read"


def test_the_errors_page_names_every_error_the_state_machine_fails_with():
    def fail_errors(states: dict) -> set[str]:
        found = {s["Error"] for s in states.values() if s.get("Type") == "Fail" and "Error" in s}
        for state in states.values():
            for nested in ("ItemProcessor", "Iterator"):
                if nested in state:
                    found |= fail_errors(state[nested]["States"])
        return found

    errors = fail_errors(json.loads(reference_tables.ASL.read_text())["States"])
    page = ERRORS_PAGE.read_text()
    assert {"LockTimedOut", "PeeringFailed", "MeshPairsFailed"} <= errors
    assert [e for e in sorted(errors) if f"| `{e}` |" not in page] == []

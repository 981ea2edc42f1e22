"""The bandit gate's matching: file + test id + code snippet, never line numbers; stale entries fail."""

from __future__ import annotations

import pytest

from security.bandit_gate import (
    EXCEPTIONS_FILE,
    REPO,
    Exception_,
    check,
    findings_from_report,
    load_exceptions,
    normalize,
)


def _report(*results: tuple[str, str, int, str]) -> dict:
    return {
        "results": [
            {
                "filename": str(REPO / file),
                "test_id": test,
                "line_number": line,
                "issue_severity": "MEDIUM",
                "issue_text": "Possible SQL injection vector",
                "code": code,
            }
            for file, test, line, code in results
        ]
    }


CODE = '41     rows = connection.execute(\n42         f"select count(*) from {relation}"\n43     ).fetchone()\n'


def test_normalize_strips_line_numbers_and_collapses_whitespace():
    assert (
        normalize(CODE)
        == 'rows = connection.execute( f"select count(*) from {relation}" ).fetchone()'
    )
    assert normalize("  select   count(*)\n from  x ") == "select count(*) from x"


def test_findings_are_relative_to_the_repository():
    (finding,) = findings_from_report(_report(("mesh_platform/x.py", "B608", 42, CODE)))
    assert (finding.file, finding.test, finding.line) == ("mesh_platform/x.py", "B608", 42)


def test_an_exception_matches_on_file_test_and_snippet_whatever_the_line():
    exc = Exception_(
        "mesh_platform/x.py", "B608", normalize("select count(*) from {relation}"), "ok"
    )
    moved = findings_from_report(
        _report(("mesh_platform/x.py", "B608", 42, CODE), ("mesh_platform/x.py", "B608", 420, CODE))
    )
    assert check(moved, [exc]) == ([], [])


@pytest.mark.parametrize(
    "file, test, snippet",
    [
        ("mesh_platform/y.py", "B608", "select count(*) from {relation}"),  # another file
        ("mesh_platform/x.py", "B603", "select count(*) from {relation}"),  # another test
        ("mesh_platform/x.py", "B608", "select * from {relation}"),  # other code
    ],
)
def test_a_finding_without_its_exact_exception_is_unjustified_and_the_entry_stale(
    file, test, snippet
):
    findings = findings_from_report(_report(("mesh_platform/x.py", "B608", 42, CODE)))
    exc = Exception_(file, test, normalize(snippet), "ok")
    unjustified, stale = check(findings, [exc])
    assert [f.line for f in unjustified] == [42]
    assert stale == [exc]


def test_no_findings_and_no_exceptions_is_clean():
    assert check([], []) == ([], [])


def test_an_entry_without_a_justification_is_refused(tmp_path):
    path = tmp_path / "exceptions.yaml"
    path.write_text("exceptions:\n  - {file: a.py, test: B101, code: assert x, why: ''}\n")
    with pytest.raises(ValueError, match=r"#1 .* lacks why"):
        load_exceptions(path)


def test_the_committed_exceptions_file_is_well_formed():
    exceptions = load_exceptions(EXCEPTIONS_FILE)
    assert exceptions, "the file lists the accepted findings"
    for exc in exceptions:
        assert (REPO / exc.file).is_file(), f"{exc.file} does not exist"
        assert exc.test.startswith("B") and len(exc.why) > 10
    keys = [(e.file, e.test, e.code) for e in exceptions]
    assert len(keys) == len(set(keys)), "duplicate entries"

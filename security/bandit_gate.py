"""``make security``: bandit over our code; every finding must be justified, every justification live.

Exceptions live in ``security/bandit-exceptions.yaml``. Each names the file, the bandit test id,
a snippet of the flagged code and why it is acceptable. A finding matches an exception when the
file and test id are equal and the snippet occurs in the flagged code (whitespace collapsed,
bandit's line numbers stripped) — line numbers are never compared, so unrelated edits do not
break the gate. The gate fails on:

- a finding that no exception justifies (fix it, or justify it in the file), and
- a stale exception that matches no finding (the code changed: delete or update the entry),

so the file always tells the truth about the code.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
EXCEPTIONS_FILE = REPO / "security" / "bandit-exceptions.yaml"
TARGETS = ("mesh_platform", "operational", "domains", "bench")
_LINE_NUMBER = re.compile(r"^\d+ ?")


@dataclass(frozen=True)
class Finding:
    file: str
    test: str
    line: int
    severity: str
    text: str
    code: str  # normalized: line numbers stripped, whitespace collapsed

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.test} ({self.severity}) {self.text}\n"
            f"    code: {self.code[:160]}"
        )


@dataclass(frozen=True)
class Exception_:
    file: str
    test: str
    code: str  # normalized snippet
    why: str

    def matches(self, finding: Finding) -> bool:
        return finding.file == self.file and finding.test == self.test and self.code in finding.code

    def __str__(self) -> str:
        return f"{self.file}: {self.test} on `{self.code}` ({self.why})"


def normalize(code: str) -> str:
    """Bandit's code excerpt (or a snippet) with line numbers stripped and whitespace collapsed."""
    lines = (_LINE_NUMBER.sub("", line, count=1) for line in code.splitlines())
    return " ".join(" ".join(lines).split())


def findings_from_report(report: dict[str, Any]) -> list[Finding]:
    """Bandit's JSON report as findings, with file paths relative to the repository."""
    out = []
    for r in report.get("results", []):
        path = Path(r["filename"])
        rel = path.relative_to(REPO) if path.is_absolute() else path
        out.append(
            Finding(
                file=rel.as_posix(),
                test=r["test_id"],
                line=r["line_number"],
                severity=r["issue_severity"],
                text=r["issue_text"],
                code=normalize(r.get("code", "")),
            )
        )
    return out


def load_exceptions(path: Path = EXCEPTIONS_FILE) -> list[Exception_]:
    """The justified exceptions; a malformed entry is an error that names it."""
    raw = yaml.safe_load(path.read_text()) or {}
    entries = raw.get("exceptions") or []
    out = []
    for i, entry in enumerate(entries, 1):
        missing = [k for k in ("file", "test", "code", "why") if not str(entry.get(k, "")).strip()]
        if missing:
            raise ValueError(
                f"{path.name}: exception #{i} ({entry}) lacks {', '.join(missing)}: every "
                "entry names file, test, code and why"
            )
        out.append(
            Exception_(entry["file"], entry["test"], normalize(str(entry["code"])), entry["why"])
        )
    return out


def check(
    findings: list[Finding], exceptions: list[Exception_]
) -> tuple[list[Finding], list[Exception_]]:
    """(findings no exception justifies, exceptions that match no finding)."""
    unjustified = [f for f in findings if not any(e.matches(f) for e in exceptions)]
    stale = [e for e in exceptions if not any(e.matches(f) for f in findings)]
    return unjustified, stale


def run_bandit(targets: tuple[str, ...] = TARGETS) -> dict[str, Any]:
    """Bandit's JSON report over ``targets`` (``# nosec`` ignored: exceptions live in one file)."""
    proc = subprocess.run(  # fixed argv, no shell
        [sys.executable, "-m", "bandit", "-r", *targets, "-n", "1", "-f", "json", "-q"]
        + ["--ignore-nosec"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError(f"bandit did not run (exit {proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def main() -> int:
    report = run_bandit()
    errors = report.get("errors") or []
    findings = findings_from_report(report)
    exceptions = load_exceptions()
    unjustified, stale = check(findings, exceptions)
    print(
        f"bandit: {len(findings)} finding(s) in {', '.join(TARGETS)}; "
        f"{len(findings) - len(unjustified)} justified in {EXCEPTIONS_FILE.relative_to(REPO)}"
    )
    for error in errors:
        print(f"bandit could not scan {error.get('filename')}: {error.get('reason')}")
    if unjustified:
        print(f"\n{len(unjustified)} finding(s) not justified — fix the code, or add an entry")
        print("(file, test, code, why) to security/bandit-exceptions.yaml:")
        for finding in unjustified:
            print(f"  {finding}")
    if stale:
        print(f"\n{len(stale)} stale exception(s) match no finding — delete or update them:")
        for exc in stale:
            print(f"  {exc}")
    if unjustified or stale or errors:
        return 1
    print("security gate: clean")
    return 0


if __name__ == "__main__":
    sys.exit(main())

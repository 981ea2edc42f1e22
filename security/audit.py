"""``make audit``: pip-audit of the locked dependencies (``uv.lock``), with a clear verdict.

The lock file is exported to a pinned requirements list and every package is looked up in a
vulnerability database (OSV first, then the PyPI advisory data). ``--strict`` makes a package
the service cannot look up fail the audit instead of being skipped silently — without it, an
unreachable database yields "No known vulnerabilities found" for packages never checked.

Exit 0: every package audited, none vulnerable. Exit 1: vulnerabilities (listed). Exit 2: no
vulnerability service answered, so nothing was audited (the message says what each one did).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVICES = ("osv", "pypi")


def _uv() -> str:
    local = REPO / ".tools" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        raise SystemExit("uv not found: run `make install` first")
    return found


def export_requirements(target: Path) -> int:
    """The locked dependencies of every group as pinned requirements; returns how many."""
    subprocess.run(  # fixed argv, no shell
        [_uv(), "export", "--frozen", "--no-hashes", "--all-groups", "--no-emit-project"]
        + ["--quiet", "-o", str(target)],
        cwd=REPO,
        check=True,
    )
    return sum(1 for line in target.read_text().splitlines() if line[:1].isalnum())


def audit(requirements: Path, service: str, timeout: int = 20) -> tuple[str, str]:
    """(verdict, detail): verdict is ``clean``, ``vulnerable`` or ``unreachable``."""
    pip_audit = Path(sys.executable).parent / "pip-audit"
    proc = subprocess.run(  # fixed argv, no shell
        [str(pip_audit), "-r", str(requirements), "--no-deps", "--disable-pip", "--strict"]
        + ["-s", service, "--timeout", str(timeout), "--progress-spinner", "off", "-f", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_AUDIT_PROGRESS_SPINNER": "off"},
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        errors = [line for line in proc.stderr.splitlines() if line.strip()]
        if "could not be audited" in proc.stderr:
            first = next(line for line in errors if "could not be audited" in line)
            return "unreachable", (
                "the service had no record of the first package it looked up, so it is not "
                f"serving advisories here ({first.split(':', 2)[-1].strip()})"
            )
        return "unreachable", errors[-1] if errors else f"pip-audit exited {proc.returncode}"
    vulnerable = [
        f"{d['name']} {d['version']}: {', '.join(v['id'] for v in d['vulns'])}"
        for d in report.get("dependencies", [])
        if d.get("vulns")
    ]
    if vulnerable:
        return "vulnerable", "\n".join(vulnerable)
    return "clean", f"{len(report.get('dependencies', []))} packages audited"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="mesh-audit-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        count = export_requirements(requirements)
        print(f"pip-audit: {count} locked packages (uv.lock, every dependency group)")
        tried = []
        for service in SERVICES:
            verdict, detail = audit(requirements, service)
            if verdict == "clean":
                print(f"✔ {service}: {detail}, no known vulnerability")
                return 0
            if verdict == "vulnerable":
                print(f"✘ {service}: known vulnerabilities:\n{detail}")
                return 1
            tried.append(f"  {service}: {detail}")
    print("✘ pip-audit could not reach any vulnerability database, so nothing was audited:")
    print("\n".join(tried))
    print("run `make audit` where the OSV API or the PyPI JSON API is reachable")
    return 2


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench.dbt_parse``: what parsing the domains' dbt projects costs a user.

Each domain owns a dbt project (``dbt_project/<domain>/``). Measured in fresh ``mesh prepare``
processes on a temporary copy of the repository (the real one is left alone):

- ``cold_all``: every domain's project parsed from nothing (no ``target/``, no installed
  packages) — what the first ``make demo`` on a fresh clone pays;
- ``cold_one``: one domain's project from nothing (``mesh prepare <domain>``) — what the first
  ``mesh materialize <domain>`` or the first load of its code location pays;
- ``edit_one``: after editing one SQL file of one domain, ``mesh prepare`` of the whole mesh —
  only that domain's project is re-parsed (``reparsed`` lists which were);
- ``unchanged``: ``mesh prepare`` with nothing changed (fingerprints only).

Medians of ``--repeat`` runs; the process time includes Python and dbt's import (≈ 2–3 s).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.variants import PY, REPO

COPIED = ("mesh_platform", "domains", "dbt_project", "governance", "pyproject.toml")
IGNORED = shutil.ignore_patterns("target", "logs", "dbt_packages", "__pycache__", "*.pyc")


def _copy(dest: Path) -> Path:
    for part in COPIED:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=IGNORED)
        else:
            shutil.copy2(source, dest / part)
    return dest


def _prepare(root: Path, data: Path, *domains: str) -> float:
    env = {
        "PATH": "/usr/bin:/bin",
        "MESH_REPO_ROOT": str(root),
        "MESH_DATA_DIR": str(data),
        "HOME": str(data),
    }
    started = time.perf_counter()
    subprocess.run(
        [PY, "-m", "mesh_platform.cli", "prepare", *domains],
        cwd=root,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def _manifests(root: Path) -> dict[str, int]:
    return {
        p.parent.parent.name: p.stat().st_mtime_ns
        for p in (root / "dbt_project").glob("*/target/manifest.json")
    }


def _clean(root: Path) -> None:
    for project in (root / "dbt_project").glob("*/dbt_project.yml"):
        for generated in ("target", "dbt_packages"):
            shutil.rmtree(project.parent / generated, ignore_errors=True)


def measure(repeat: int = 3, domain: str = "artists") -> dict:
    with tempfile.TemporaryDirectory(prefix="mesh-bench-parse-") as tmp:
        root, data = _copy(Path(tmp) / "repo"), Path(tmp) / "data"
        runs: dict[str, list[float]] = {"cold_all": [], "cold_one": [], "edit_one": []}
        runs["unchanged"] = []
        reparsed: list[str] = []
        model = next((root / "dbt_project" / domain / "models").rglob("*.sql"))
        for rep in range(repeat):
            _clean(root)
            runs["cold_one"].append(_prepare(root, data, domain))
            _clean(root)
            runs["cold_all"].append(_prepare(root, data))
            before = _manifests(root)
            model.write_text(model.read_text() + f"\n-- bench edit {rep}\n")
            runs["edit_one"].append(_prepare(root, data))
            after = _manifests(root)
            reparsed = sorted(d for d in after if after[d] != before.get(d))
            runs["unchanged"].append(_prepare(root, data))
        domains = sorted(_manifests(root))
    return {
        "domains": domains,
        "edited_domain": domain,
        "reparsed_after_edit": reparsed,
        "median_s": {k: round(statistics.median(v), 2) for k, v in runs.items()},
        "runs_s": {k: [round(x, 2) for x in v] for k, v in runs.items()},
    }


def markdown(result: dict) -> str:
    m = result["median_s"]
    return "\n".join(
        [
            "## dbt parse (one project per domain)",
            "",
            "| what | median s |",
            "|---|---|",
            f"| every domain's project from nothing (`mesh prepare`) | {m['cold_all']} |",
            f"| one domain ({result['edited_domain']}) from nothing | {m['cold_one']} |",
            f"| after editing one SQL file of {result['edited_domain']} | {m['edit_one']} |",
            f"| nothing changed | {m['unchanged']} |",
            "",
            f"Re-parsed after the edit: {', '.join(result['reparsed_after_edit']) or 'none'} "
            f"(of {len(result['domains'])} domains).",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dbt_parse")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--domain", default="artists")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = measure(args.repeat, args.domain)
    text = markdown(result)
    if args.out:
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=2))
        args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

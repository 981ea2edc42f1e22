"""Nothing secret in the repository, secrets only from the environment, tokens never in clear.

- Every tracked file (``git ls-files``) is scanned for private keys, well-known token formats,
  the mesh's own bearer tokens and passwords/secrets assigned a literal value.
- The production configuration takes PostgreSQL's password from the environment (Dagster's
  instance file) or from a Kubernetes secret (Helm values); the local production topology
  makes a random one per cluster and hands it over only through environment variables.
- A bearer token issued by ``mesh access token`` and then used (accepted, refused, audited)
  appears in clear nowhere under the data directory, the access directory or the logs.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ...conftest import REPO

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "mesh bearer token": re.compile(r"\bmesh_[A-Za-z0-9_-]{32}\b"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^/\s@'\"{}$]{3,}@"),
}
# `password = "hunter2"`, `api_key: abc123…`: a secret-looking name given a literal value
_NAME = r"(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)"
ASSIGNMENT = re.compile(
    rf"""(?ix)\b(?P<key>[\w-]*{_NAME})["']?\s*(?::|=|:=)\s*
    (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s,#)\]}}]+)"""
)
# quoted values that are not secrets: references to the environment or a secret store,
# placeholders and the obviously fake values of tests and examples
NOT_A_VALUE = re.compile(
    r"""(?ix)^(?:\{.*|\$.*|<.*>|%.*|\*+|x+|none|null|true|false|\.\.\.|…
      |.*(?:example|dummy|fake|placeholder|environment|not-a-secret|redacted|wrong).*)$"""
)
SKIP_SUFFIXES = {".lock", ".parquet", ".duckdb", ".png", ".jpg", ".ico", ".gz", ".whl"}


def tracked_files() -> list[Path]:
    out = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True
    ).stdout
    files = [REPO / name for name in out.decode().split("\0") if name]
    # this file is left out: its examples of what the scanner catches are fake secrets
    own = Path(__file__).resolve()
    return [f for f in files if f.is_file() and f.suffix not in SKIP_SUFFIXES and f != own]


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:4096]:
        return None
    return data.decode("utf-8", errors="replace")


def literal_secrets(text: str) -> list[str]:
    """Secret-looking names assigned a literal value in ``text`` (each as ``key = value``)."""
    hits = []
    for match in ASSIGNMENT.finditer(text):
        key, value = match["key"], match["value"].strip()
        if key.lower().endswith(("name", "names", "_file", "file", "env", "dir", "path")):
            continue  # names of secrets (Kubernetes secret names, env var names), not secrets
        bare = value.strip("\"'")
        if len(bare) < 6 or " " in bare or NOT_A_VALUE.match(bare):
            continue
        if value[:1] not in "\"'" and (re.search(r"[.(\[]", bare) or not re.search(r"\d", bare)):
            continue  # unquoted: code (self.password, os.environ[...]) or a plain word
        hits.append(f"{key} = {value}")
    return hits


def test_the_scanner_finds_what_it_is_for():
    assert literal_secrets('password = "hunter2pass"') == ['password = "hunter2pass"']
    assert literal_secrets("  api_key: sk12345678\n") == ["api_key = sk12345678"]
    assert literal_secrets("password: {env: DAGSTER_PG_PASSWORD}") == []
    assert literal_secrets('env = {"PGPASSWORD": self.password}') == []
    assert literal_secrets("postgresqlSecretName: dagster-postgresql-secret") == []
    assert SECRET_PATTERNS["private key"].search("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert SECRET_PATTERNS["URL with a password"].search("postgresql://dagster:s3cr3t@db:5432/x")
    assert not SECRET_PATTERNS["URL with a password"].search("postgresql://dagster@db:5432/x")


def test_no_tracked_file_holds_a_secret():
    findings = []
    files = tracked_files()
    assert len(files) > 100, "git ls-files found the repository's files"
    for path in files:
        text = _text(path)
        if text is None:
            continue
        rel = path.relative_to(REPO)
        for what, pattern in SECRET_PATTERNS.items():
            findings += [f"{rel}: {what}: {m[0][:40]}…" for m in pattern.finditer(text)]
        findings += [f"{rel}: literal secret: {hit}" for hit in literal_secrets(text)]
    assert not findings, "secrets in tracked files:\n" + "\n".join(findings)


def test_production_takes_the_postgres_password_from_the_environment_or_a_secret_store():
    instance = yaml.safe_load((REPO / "infra" / "dagster.production.yaml").read_text())
    postgres_db = instance["storage"]["postgres"]["postgres_db"]
    for key in ("hostname", "username", "password", "db_name", "port"):
        assert set(postgres_db[key]) == {"env"}, f"{key} must come from an environment variable"
    assert postgres_db["password"] == {"env": "DAGSTER_PG_PASSWORD"}

    values = yaml.safe_load((REPO / "infra" / "helm" / "values.yaml").read_text())
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    assert "postgresqlPassword" not in values["postgresql"]

    def keys(node):
        if isinstance(node, dict):
            for key, value in node.items():
                yield str(key)
                yield from keys(value)
        elif isinstance(node, list):
            for item in node:
                yield from keys(item)

    password_keys = {k for k in keys(values) if "password" in k.lower()}
    assert password_keys == {"generatePostgresqlPasswordSecret"}


def test_the_local_production_topology_makes_a_fresh_password_handed_over_only_by_env(tmp_path):
    from mesh_platform.production.postgres import PostgresCluster

    first, second = PostgresCluster(tmp_path), PostgresCluster(tmp_path)
    assert first.password != second.password and len(first.password) >= 24
    assert first.env()["DAGSTER_PG_PASSWORD"] == first.password
    source = (REPO / "mesh_platform" / "production" / "postgres.py").read_text()
    assert not literal_secrets(source)


@pytest.fixture
def access_env(tmp_path, monkeypatch):
    access = tmp_path / "access"
    shutil.copytree(REPO / "governance" / "access", access)
    monkeypatch.setenv("MESH_ACCESS_DIR", str(access))
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    from mesh_platform.core.environment import get_environment

    return get_environment()


def test_an_issued_token_is_never_stored_or_logged_in_clear(access_env, caplog, capfd):
    from mesh_platform.cli.app import app
    from mesh_platform.portal import create_app

    caplog.set_level(logging.DEBUG)
    issued = CliRunner().invoke(app, ["access", "token", "alice"])
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]
    assert token.startswith("mesh_")  # shown once, to the one who asked for it

    client = TestClient(create_app(access_env))
    good, bad = ({"Authorization": f"Bearer {t}"} for t in (token, token + "x"))
    assert client.get("/api/v1/access/requests", headers=good).status_code == 200
    assert client.get("/api/v1/access/requests", headers=bad).status_code == 401
    asked = client.post(
        "/api/v1/access/requests",
        headers=good,
        json={"target": "artists.artist_payments", "reason": "Reconcile payments with finance"},
    )
    assert asked.status_code == 201, asked.text
    # alice may not decide her own request (only the owner team or a steward): refused, audited
    refused = client.post(
        f"/api/v1/access/requests/{asked.json()['id']}/approve", headers=good, json={"note": "x"}
    )
    assert refused.status_code == 403, refused.text
    audit = CliRunner().invoke(app, ["access", "audit"])
    assert audit.exit_code == 0, audit.output
    assert "denied" in audit.output  # the refusal was audited (with the user, not the token)

    places = {
        "the audit command's output": audit.output,
        "the log records": caplog.text,
        "stdout/stderr": "".join(capfd.readouterr()),
    }
    for root in (access_env.data_dir, access_env.access_dir):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            places[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    assert any(p.endswith("tokens.json") for p in places), sorted(places)
    assert any("audit" in p for p in places), sorted(places)
    leaked = [where for where, text in places.items() if token in text]
    assert not leaked, f"the token appears in clear in: {leaked}"

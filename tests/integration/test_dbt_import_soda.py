"""The contracts `mesh import dbt` writes pass Soda on the fixture project as dbt builds it
(the reference check included): generated checks are real checks, not just parseable YAML."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from mesh_platform.build.verification import verify_contract
from mesh_platform.core.contracts import load_contract
from mesh_platform.scaffold.dbt_import.contract import contract_for_port
from mesh_platform.scaffold.dbt_import.reader import read_project

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "dbt_projects" / "shop"
DBT = Path(sys.executable).parent / "dbt"


@pytest.mark.slow
def test_generated_contracts_pass_soda_on_the_built_project(tmp_path):
    database = tmp_path / "shop.duckdb"
    env = {
        **os.environ,
        "SHOP_DUCKDB_PATH": str(database),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    args = ["build", "--project-dir", str(SHOP), "--profiles-dir", str(SHOP)]
    args += ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    subprocess.run([str(DBT), *args], env=env, check=True, capture_output=True)
    summary = read_project(SHOP, build=True)
    with duckdb.connect(str(database), read_only=True) as con:
        for name in ("orders", "customers"):
            dataset = f"shop/marts/{name}"
            generated = contract_for_port(
                summary.model(name), dataset, f"shop.{name}", summary=summary
            )
            path = tmp_path / f"{name}.yaml"
            path.write_text(generated.text)
            result = verify_contract(con.cursor(), load_contract(path, dataset), "shop")
            failed = [(o.check.name, o.outcome) for o in result.outcomes if not o.passed]
            assert result.passed, (name, failed, result.errors)
            assert len(result.outcomes) >= 6

"""What a fresh portal process loads for its first product page (issue 25, item 8: a cold
product page under 2 s). The page reads the catalog and the Dagster instance; it must not pay
for pandas, Soda or dbt, nor open the ports' Iceberg catalog when nothing was ever published."""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404 - runs this repo's own interpreter on a fixed script
import sys
from pathlib import Path

FIRST_PAGE = """
import json, sys
from fastapi.testclient import TestClient
from mesh_platform.portal import create_app
page = TestClient(create_app()).get("/products/artists/artist_royalties")
heavy = ("pandas", "pyarrow", "soda_core", "dbt", "pyiceberg")
print(json.dumps({"status": page.status_code, "text": page.text,
                  "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_a_cold_product_page_loads_no_pandas_arrow_soda_dbt_or_iceberg(tmp_path: Path):
    env = {**os.environ, "MESH_DATA_DIR": str(tmp_path / "data")}
    env.pop("MESH_REPO_ROOT", None)
    done = subprocess.run(  # nosec B603 - fixed argv: this interpreter and a literal script
        [sys.executable, "-c", FIRST_PAGE],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer["status"] == 200 and "artists.artist_royalties" in answer["text"]
    assert "not published" in answer["text"]  # nothing was: the page still says so
    assert answer["loaded"] == []
    assert not (tmp_path / "data" / "ports" / "catalog.db").exists()  # a read creates no store

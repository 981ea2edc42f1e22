"""The reference CSVs (countries and plans) that every other system's codes point to."""

from __future__ import annotations

import csv
from pathlib import Path

from operational import reference_data as ref


def write_reference(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "countries.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("country_code", "country_name", "region"))
        writer.writerows((c.code, c.name, c.region) for c in ref.COUNTRIES)
    with (folder / "plans.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("plan_id", "plan_name", "monthly_price_eur", "max_members"))
        writer.writerows(
            (p.plan_id, p.plan_name, p.monthly_price_eur, p.max_members) for p in ref.PLANS
        )

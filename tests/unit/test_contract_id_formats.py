"""Id formats in contracts accept the ids of a big mesh, not only of the demo's scale.

The generator zero-pads ids to a base width and lets them grow wider when there are more
rows (1,000,000 tracks at scale 50 are ``trk_0000001`` … ``trk_1000000``). A contract that
pinned the width (``{6}``) rejected every play event at scale 50 — 100 % of rows invalid, so
nothing downstream of playback was published — while every smaller scale passed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from operational.artists import _ids

REPO = Path(__file__).resolve().parents[2]
PREFIXED_ID = re.compile(r"^\^([a-z]+_)\[0-9\]\{(\d+)")


def _id_formats() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(REPO.glob("domains/*/contracts/*.yaml")):
        contract = yaml.safe_load(path.read_text())
        for column in contract.get("columns", []):
            for check in column.get("checks") or []:
                fmt = ((check or {}).get("invalid") or {}).get("valid_format") or {}
                if PREFIXED_ID.match(fmt.get("regex", "")):
                    found.append(
                        (f"{path.parent.parent.name}/{path.name}", column["name"], fmt["regex"])
                    )
    return found


ID_FORMATS = _id_formats()


def test_the_contracts_declare_id_formats() -> None:
    assert {col for _, col, _ in ID_FORMATS} >= {"track_id", "artist_id", "show_id", "episode_id"}


@pytest.mark.parametrize(("contract", "column", "regex"), ID_FORMATS)
def test_an_id_one_digit_wider_than_the_base_width_is_valid(
    contract: str, column: str, regex: str
) -> None:
    prefix, width = PREFIXED_ID.match(regex).groups()
    first, wider = _ids(prefix, 10 ** int(width), int(width)).to_pylist()[:: 10 ** int(width) - 1]
    for value in (first, wider):
        assert re.fullmatch(regex, value), (
            f"{contract}, column {column}: valid_format {regex!r} rejects {value!r}, an id the "
            f"generator makes once there are {10 ** int(width):,} rows — allow wider ids ({{N,}})"
        )


def test_the_generator_widens_track_ids_past_a_million_tracks() -> None:
    ids = _ids("trk_", 1_000_000, 6)
    assert ids[0].as_py() == "trk_0000001" and ids[-1].as_py() == "trk_1000000"

"""Fault injection: corrupt generated operational data in named, deterministic ways.

Each fault kind is a function that edits a generator output directory in place and returns a
:class:`FaultReport` saying what it touched (file or table), how many delivered rows are bad
and how many rows it added to or removed from the source, so a test can reconcile
``rows in = rows published + rows rejected`` exactly. Every kind also names what the mesh is
expected to do about it: the domain, product, column and contract check that must catch it, and
whether the bad rows are ``reject``-ed (the port publishes partially), the publish is ``block``-ed,
or the data is ``accept``-ed unchanged (harmless disorder or extra fields).

Play-event kinds each edit their own day file (a different one per kind), so several can be
injected together and still be told apart and counted one by one.

    python -m operational --scale 0.02 --fault null_key --fault unknown_enum
    python -m operational.faults --list
    python -m operational.faults null_key --out data/operational    # into an existing output
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

PLAYS = "events/plays"
REDELIVERED = "plays-redelivered.jsonl"


@dataclass(frozen=True)
class FaultReport:
    kind: str
    source: str  # file or table touched, relative to the output directory
    rows_bad: int  # delivered rows that must be rejected (or that block the publish)
    rows_delta: int  # rows added (+) or removed (-) from the source by the fault
    outcome: str  # "reject", "block" or "accept"
    domain: str
    product: str
    column: str | None  # the column the expected check is on (None: dataset-level)
    check: str | None  # the contract check that must name it (None when accepted)
    detail: str
    # rows the port keeps from an earlier build although the source no longer delivers them
    # (an empty day file does not wipe its day: the model replaces only days that arrive)
    rows_carried: int = 0

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Fault:
    kind: str
    description: str
    apply: Callable[[Path], FaultReport]
    outcome: str
    domain: str


FAULTS: dict[str, Fault] = {}


def _fault(kind: str, description: str, outcome: str, domain: str):
    def register(fn: Callable[[Path], FaultReport]) -> Callable[[Path], FaultReport]:
        FAULTS[kind] = Fault(kind, description, fn, outcome, domain)
        return fn

    return register


# ---- play event stream (playback.play_events publishes partially) ---------------------------

# Each play-event kind edits the day file at its own index (4 days apart), so kinds injected
# together never touch the same file; late_event also uses the day two before its own.
_PLAY_DAY = {
    kind: 2 + 4 * i
    for i, kind in enumerate(
        [
            "null_key",
            "duplicate_key",
            "wrong_type",
            "unparseable_timestamp",
            "future_timestamp",
            "before_launch_timestamp",
            "negative_duration",
            "absurd_duration",
            "malformed_json_line",
            "truncated_file",
            "unexpected_encoding",
            "quotes_newlines_sql_text",
            "unknown_enum",
            "late_event",
            "redelivered_file",
            "missing_field",
            "renamed_field",
            "out_of_order",
            "extra_field",
            "empty_file",
            "huge_line",
            "date_folder_not_a_date",
        ]
    )
}
_ROWS = 2  # lines corrupted by a line-level kind


def _day_files(out: Path) -> list[Path]:
    files = sorted((out / PLAYS).glob("date=*/plays.jsonl"))
    if not files:
        raise FileNotFoundError(f"no play event files under {out / PLAYS}: generate first")
    return files


def _day_file(out: Path, kind: str, offset: int = 0) -> Path:
    files = _day_files(out)
    return files[(_PLAY_DAY[kind] + offset) % len(files)]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _picked(lines: list, n: int = _ROWS) -> list[int]:
    """Which lines a kind corrupts: n consecutive lines from the middle of the file."""
    if len(lines) < n + 2:
        raise ValueError(f"a day file needs at least {n + 2} lines to inject a fault")
    start = len(lines) // 2
    return list(range(start, start + n))


def _rel(out: Path, path: Path) -> str:
    return str(path.relative_to(out))


def _dump(event: dict) -> bytes:
    return (json.dumps(event, separators=(",", ":")) + "\n").encode()


def _edit(out: Path, kind: str, edit: Callable[[dict], dict]) -> tuple[Path, int]:
    path = _day_file(out, kind)
    lines = _lines(path)
    rows = _picked(lines)
    for i in rows:
        lines[i] = _dump(edit(json.loads(lines[i])))
    path.write_bytes(b"".join(lines))
    return path, len(rows)


def _edit_events(
    out: Path, kind: str, edit: Callable[[dict], dict], column: str, check: str, what: str
) -> FaultReport:
    path, n = _edit(out, kind, edit)
    return _plays_report(out, kind, path, n, 0, column, check, what)


def _plays_report(out, kind, path, bad, delta, column, check, what, outcome="reject"):
    return FaultReport(
        kind=kind,
        source=_rel(out, path),
        rows_bad=bad,
        rows_delta=delta,
        outcome=outcome,
        domain="playback",
        product="play_events",
        column=column,
        check=check,
        detail=what,
    )


def _set(field: str, value) -> Callable[[dict], dict]:
    return lambda event: {**event, field: value}


@_fault("null_key", "event_id is null", "reject", "playback")
def null_key(out: Path) -> FaultReport:
    return _edit_events(
        out, "null_key", _set("event_id", None), "event_id", "contract__event_id__missing",
        "event_id set to null",
    )  # fmt: skip


@_fault("duplicate_key", "two different plays share an event_id", "reject", "playback")
def duplicate_key(out: Path) -> FaultReport:
    path = _day_file(out, "duplicate_key")
    lines = _lines(path)
    first, second = _picked(lines)
    rows = [first, second]
    # pairs (first - 1, first) and (first - 2, second) collide: one row of each pair is bad
    for i, donor in ((first, first - 1), (second, first - 2)):
        lines[i] = _dump({**json.loads(lines[i]), "event_id": json.loads(lines[donor])["event_id"]})
    path.write_bytes(b"".join(lines))
    return _plays_report(
        out, "duplicate_key", path, len(rows), 0, "event_id", "contract__event_id__duplicate",
        "event_id of a neighbouring play reused",
    )  # fmt: skip


@_fault("wrong_type", "ms_played is text", "reject", "playback")
def wrong_type(out: Path) -> FaultReport:
    return _edit_events(
        out, "wrong_type", _set("ms_played", "three minutes"), "ms_played",
        "contract__ms_played__missing", "ms_played is a string that is not a number",
    )  # fmt: skip


@_fault("unparseable_timestamp", "played_at cannot be parsed", "reject", "playback")
def unparseable_timestamp(out: Path) -> FaultReport:
    return _edit_events(
        out, "unparseable_timestamp", _set("played_at", "31/02/2026 25:61"), "played_at",
        "contract__played_at__missing", "played_at is not a timestamp",
    )  # fmt: skip


@_fault("future_timestamp", "played_at in the future", "reject", "playback")
def future_timestamp(out: Path) -> FaultReport:
    return _edit_events(
        out, "future_timestamp", _set("played_at", "2099-07-01T12:00:00.000Z"), "played_at",
        "contract__played_at__failed_rows__outside_event_date", "played_at in 2099",
    )  # fmt: skip


@_fault("before_launch_timestamp", "played_at before Daff existed", "reject", "playback")
def before_launch_timestamp(out: Path) -> FaultReport:
    return _edit_events(
        out, "before_launch_timestamp", _set("played_at", "1999-12-31T23:59:59.000Z"),
        "played_at", "contract__played_at__failed_rows__before_launch", "played_at in 1999",
    )  # fmt: skip


@_fault("negative_duration", "ms_played below zero", "reject", "playback")
def negative_duration(out: Path) -> FaultReport:
    return _edit_events(
        out, "negative_duration", _set("ms_played", -42_000), "ms_played",
        "contract__ms_played__invalid", "ms_played = -42000",
    )  # fmt: skip


@_fault("absurd_duration", "ms_played of centuries", "reject", "playback")
def absurd_duration(out: Path) -> FaultReport:
    return _edit_events(
        out, "absurd_duration", _set("ms_played", 9_000_000_000_000), "ms_played",
        "contract__ms_played__invalid", "ms_played = 9e12 (285 years)",
    )  # fmt: skip


@_fault("malformed_json_line", "a line that is not JSON", "reject", "playback")
def malformed_json_line(out: Path) -> FaultReport:
    path = _day_file(out, "malformed_json_line")
    lines = _lines(path)
    rows = _picked(lines)
    for i in rows:
        lines[i] = lines[i][:40] + b" <<garbled by the collector>>\n"
    path.write_bytes(b"".join(lines))
    return _plays_report(
        out, "malformed_json_line", path, len(rows), 0, "event_id",
        "contract__event_id__missing", "line cut after 40 bytes and garbled",
    )  # fmt: skip


@_fault("truncated_file", "a day file cut off mid-line", "reject", "playback")
def truncated_file(out: Path) -> FaultReport:
    path = _day_file(out, "truncated_file")
    lines = _lines(path)
    keep = _picked(lines)[0]
    lost = len(lines) - keep - 1  # whole lines after the cut never arrived
    path.write_bytes(b"".join(lines[:keep]) + lines[keep][:25])
    return _plays_report(
        out, "truncated_file", path, 1, -lost, "event_id", "contract__event_id__missing",
        f"file cut 25 bytes into line {keep + 1}; {lost} later lines never arrived",
    )  # fmt: skip


@_fault("unexpected_encoding", "a Latin-1 byte in a UTF-8 stream", "reject", "playback")
def unexpected_encoding(out: Path) -> FaultReport:
    path = _day_file(out, "unexpected_encoding")
    lines = _lines(path)
    rows = _picked(lines)
    for i in rows:
        raw = _dump({**json.loads(lines[i]), "device": "DEVICE"})
        lines[i] = raw.replace(b"DEVICE", "smart_spéaker".encode("latin-1"))
    path.write_bytes(b"".join(lines))
    return _plays_report(
        out, "unexpected_encoding", path, len(rows), 0, "device", "contract__device__invalid",
        "device written in Latin-1 ('smart_sp\\xe9aker'), not UTF-8",
    )  # fmt: skip


SQL_TEXT = "trk_000001\"); DROP TABLE marts.play_events; --\n' OR '1'='1"


@_fault("quotes_newlines_sql_text", "quotes, a newline and SQL in a value", "reject", "playback")
def quotes_newlines_sql_text(out: Path) -> FaultReport:
    return _edit_events(
        out, "quotes_newlines_sql_text", _set("track_id", SQL_TEXT), "track_id",
        "contract__track_id__invalid", "track_id holds quotes, a newline and SQL",
    )  # fmt: skip


@_fault("unknown_enum", "a device family nobody knows", "reject", "playback")
def unknown_enum(out: Path) -> FaultReport:
    return _edit_events(
        out, "unknown_enum", _set("device", "hologram"), "device", "contract__device__invalid",
        "device = 'hologram'",
    )  # fmt: skip


@_fault("late_event", "plays delivered days late, in a later day's file", "reject", "playback")
def late_event(out: Path) -> FaultReport:
    target = _day_file(out, "late_event")
    source = _day_file(out, "late_event", offset=-2)
    src_lines, dst_lines = _lines(source), _lines(target)
    rows = _picked(src_lines)
    moved = [src_lines[i] for i in rows]
    source.write_bytes(b"".join(line for i, line in enumerate(src_lines) if i not in rows))
    target.write_bytes(b"".join(dst_lines + moved))
    return _plays_report(
        out, "late_event", target, len(rows), 0, "played_at",
        "contract__played_at__failed_rows__outside_event_date",
        f"{len(rows)} plays of {source.parent.name} landed two days late in {target.parent.name}",
    )  # fmt: skip


@_fault("redelivered_file", "a day file delivered twice", "reject", "playback")
def redelivered_file(out: Path) -> FaultReport:
    path = _day_file(out, "redelivered_file")
    copy = path.with_name(REDELIVERED)
    copy.write_bytes(path.read_bytes())
    n = len(_lines(path))
    return _plays_report(
        out, "redelivered_file", copy, n, n, "event_id", "contract__event_id__duplicate",
        f"{path.parent.name} delivered again as {REDELIVERED}",
    )  # fmt: skip


@_fault("missing_field", "schema drift: a field left out", "reject", "playback")
def missing_field(out: Path) -> FaultReport:
    def drop(event: dict) -> dict:
        return {k: v for k, v in event.items() if k != "country_code"}

    return _edit_events(
        out, "missing_field", drop, "country_code", "contract__country_code__missing",
        "country_code left out of the event",
    )  # fmt: skip


@_fault("renamed_field", "schema drift: a field renamed", "reject", "playback")
def renamed_field(out: Path) -> FaultReport:
    def rename(event: dict) -> dict:
        return {("msPlayed" if k == "ms_played" else k): v for k, v in event.items()}

    return _edit_events(
        out, "renamed_field", rename, "ms_played", "contract__ms_played__missing",
        "ms_played sent as msPlayed by an old client",
    )  # fmt: skip


@_fault("out_of_order", "a day file in reverse order", "accept", "playback")
def out_of_order(out: Path) -> FaultReport:
    path = _day_file(out, "out_of_order")
    lines = _lines(path)
    path.write_bytes(b"".join(reversed(lines)))
    return _plays_report(
        out, "out_of_order", path, 0, 0, None, None, "lines in reverse order", outcome="accept"
    )


@_fault("extra_field", "schema drift: an unknown field added", "accept", "playback")
def extra_field(out: Path) -> FaultReport:
    path, _ = _edit(out, "extra_field", _set("client_version", "9.9.9"))
    return _plays_report(
        out, "extra_field", path, 0, 0, None, None, "client_version added (ignored by staging)",
        outcome="accept",
    )  # fmt: skip


@_fault("empty_file", "a day file delivered empty", "accept", "playback")
def empty_file(out: Path) -> FaultReport:
    path = _day_file(out, "empty_file")
    n = len(_lines(path))
    path.write_bytes(b"")
    report = _plays_report(
        out, "empty_file", path, 0, -n, None, None,
        f"the file is empty; the {n} plays built from it before stay (days are replaced, never "
        "wiped)", outcome="accept",
    )  # fmt: skip
    return FaultReport(**{**report.to_json(), "rows_carried": n})


HUGE_LINE_BYTES = 50 * 1024 * 1024  # over DuckDB's default line limit (2 MiB), under 64 MiB


@_fault("huge_line", "a 50 MB line (a collector dumped its buffer)", "reject", "playback")
def huge_line(out: Path) -> FaultReport:
    path = _day_file(out, "huge_line")
    lines = _lines(path)
    i = _picked(lines, 1)[0]
    lines[i] = lines[i][:40] + b"A" * (HUGE_LINE_BYTES - 41) + b"\n"
    path.write_bytes(b"".join(lines))
    return _plays_report(
        out, "huge_line", path, 1, 0, "event_id", "contract__event_id__missing",
        f"line {i + 1} is {HUGE_LINE_BYTES} bytes: an event cut after 40 bytes, then filler",
    )  # fmt: skip


BAD_DAY_FOLDER = "date=2026-02-30"  # not a date: February has no 30th


@_fault("date_folder_not_a_date", "plays landed in date=2026-02-30/", "reject", "playback")
def date_folder_not_a_date(out: Path) -> FaultReport:
    source = _day_file(out, "date_folder_not_a_date")
    lines = _lines(source)
    events = [json.loads(lines[i]) for i in _picked(lines)]
    path = out / PLAYS / BAD_DAY_FOLDER / "plays.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    # new events (their own ids), as a collector with a broken calendar would land them
    path.write_bytes(
        b"".join(_dump({**e, "event_id": f"pe_badday_{n:04d}"}) for n, e in enumerate(events))
    )
    return _plays_report(
        out, "date_folder_not_a_date", path, len(events), len(events), "event_date",
        "contract__event_date__missing", f"{len(events)} plays in {BAD_DAY_FOLDER}/",
    )  # fmt: skip


@_fault("bad_batch", "5% of all plays bad: more than the port may reject", "block", "playback")
def bad_batch(out: Path) -> FaultReport:
    bad = 0
    for path in _day_files(out):
        lines = _lines(path)
        for i in range(0, len(lines), 20):
            lines[i] = _dump({**json.loads(lines[i]), "country_code": "Atlantis"})
            bad += 1
        path.write_bytes(b"".join(lines))
    return FaultReport(
        "bad_batch", PLAYS, bad, 0, "block", "playback", "play_events", "country_code",
        "contract__country_code__invalid", "every 20th play has country_code 'Atlantis'",
    )  # fmt: skip


# ---- artist management CSV export (artists blocks) ------------------------------------------


def _csv(out: Path, name: str) -> Path:
    return out / "artist_management" / f"{name}.csv"


@_fault("orphan_foreign_key", "a payment to an artist who does not exist", "block", "artists")
def orphan_foreign_key(out: Path) -> FaultReport:
    path = _csv(out, "payments")
    lines = _lines(path)
    i = len(lines) // 2
    cells = lines[i].decode().split(",")
    cells[1] = "art_99999"
    lines[i] = ",".join(cells).encode()
    path.write_bytes(b"".join(lines))
    return FaultReport(
        "orphan_foreign_key", _rel(out, path), 1, 0, "block", "artists", "artist_payments",
        "artist_id", "contract__artist_id__failed_rows__known_artist",
        "payment references art_99999, not in artists.csv",
    )  # fmt: skip


@_fault("csv_unexpected_encoding", "a CSV export in Latin-1", "block", "artists")
def csv_unexpected_encoding(out: Path) -> FaultReport:
    path = _csv(out, "artists")
    lines = _lines(path)
    i = len(lines) // 2
    cells = lines[i].decode().split(",")
    lines[i] = b",".join(
        [cells[0].encode(), "Sigur Rós".encode("latin-1"), *map(str.encode, cells[2:])]
    )
    path.write_bytes(b"".join(lines))
    return FaultReport(
        "csv_unexpected_encoding", _rel(out, path), 1, 0, "block", "artists", "artist_profiles",
        None, "source schema", "one artist name written in Latin-1: the export cannot be read",
    )  # fmt: skip


@_fault("csv_duplicate_key", "a track exported twice", "block", "artists")
def csv_duplicate_key(out: Path) -> FaultReport:
    path = _csv(out, "tracks")
    lines = _lines(path)
    i = len(lines) // 2
    lines.insert(i + 1, lines[i])
    path.write_bytes(b"".join(lines))
    return FaultReport(
        "csv_duplicate_key", _rel(out, path), 1, 1, "block", "artists", "track_catalog",
        "track_id", "contract__track_id__duplicate", "one track row repeated",
    )  # fmt: skip


CR_NAME = "Sigur\rRos"  # a bare carriage return inside a quoted field


@_fault("csv_carriage_return", "a bare CR inside a quoted CSV field", "accept", "artists")
def csv_carriage_return(out: Path) -> FaultReport:
    path = _csv(out, "artists")
    lines = _lines(path)
    i = len(lines) // 3  # not the line csv_unexpected_encoding edits
    cells = lines[i].decode().split(",")
    cells[1] = '"' + CR_NAME + '"'
    lines[i] = ",".join(cells).encode()
    path.write_bytes(b"".join(lines))
    return FaultReport(
        "csv_carriage_return", _rel(out, path), 0, 0, "accept", "artists", "artist_profiles",
        "artist_name", None, f"artist {cells[0]} is named {CR_NAME!r}: a CR inside quotes",
    )  # fmt: skip


# ---- listener registration database (listeners blocks) --------------------------------------


def _sqlite(out: Path, sql: str) -> Path:
    path = out / "registration.sqlite"
    with sqlite3.connect(path) as con:
        con.execute(sql)
    con.close()
    return path


@_fault("table_disappears", "a source table is dropped", "block", "listeners")
def table_disappears(out: Path) -> FaultReport:
    path = _sqlite(out, "drop table profile_changes")
    return FaultReport(
        "table_disappears", f"{_rel(out, path)}:profile_changes", 0, 0, "block", "listeners",
        "listener_profile_updates", None, "source schema", "table profile_changes dropped",
    )  # fmt: skip


@_fault("renamed_column", "schema drift: a source column renamed", "block", "listeners")
def renamed_column(out: Path) -> FaultReport:
    path = _sqlite(out, "alter table subscriptions rename column plan_id to plan_code")
    return FaultReport(
        "renamed_column", f"{_rel(out, path)}:subscriptions", 0, 0, "block", "listeners",
        "subscription_periods", "plan_id", "source schema",
        "subscriptions.plan_id renamed plan_code",
    )  # fmt: skip


# ---- podcast API pages (podcasts blocks) -----------------------------------------------------


def _edit_page(out: Path, edit: Callable[[dict], None]) -> Path:
    path = sorted((out / "podcasts" / "api").glob("page-*.json"))[0]
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@_fault("json_missing_field", "schema drift: a show without its category", "block", "podcasts")
def json_missing_field(out: Path) -> FaultReport:
    path = _edit_page(out, lambda doc: doc["shows"][1].pop("category"))
    return FaultReport(
        "json_missing_field", _rel(out, path), 1, 0, "block", "podcasts", "podcast_shows",
        "category", "contract__category__missing", "category left out of one show",
    )  # fmt: skip


@_fault("json_unknown_enum", "a language code nobody knows", "block", "podcasts")
def json_unknown_enum(out: Path) -> FaultReport:
    path = _edit_page(out, lambda doc: doc["shows"][2].update(language="Klingon"))
    return FaultReport(
        "json_unknown_enum", _rel(out, path), 1, 0, "block", "podcasts", "podcast_shows",
        "language", "contract__language__invalid", "language = 'Klingon'",
    )  # fmt: skip


@_fault("json_negative_duration", "an episode lasting minus ten minutes", "block", "podcasts")
def json_negative_duration(out: Path) -> FaultReport:
    path = _edit_page(out, lambda doc: doc["shows"][0]["episodes"][0].update(duration_seconds=-600))
    return FaultReport(
        "json_negative_duration", _rel(out, path), 1, 0, "block", "podcasts", "podcast_episodes",
        "duration_seconds", "contract__duration_seconds__invalid", "duration_seconds = -600",
    )  # fmt: skip


def inject(out: Path, kinds: list[str]) -> list[FaultReport]:
    """Apply the named faults, in the order given, to the generator output ``out``."""
    unknown = [k for k in kinds if k not in FAULTS]
    if unknown:
        raise ValueError(f"unknown fault kind(s) {unknown}; known: {sorted(FAULTS)}")
    return [FAULTS[k].apply(Path(out)) for k in kinds]


def count_play_lines(out: Path) -> int:
    """Lines delivered by the play event stream (what staging turns into rows)."""
    total = 0
    for path in sorted((Path(out) / PLAYS).glob("date=*/*.jsonl")):
        data = path.read_bytes()
        total += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return total


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m operational.faults",
        description="Corrupt generated operational data in place (see --list).",
    )
    parser.add_argument("kinds", nargs="*", metavar="KIND")
    parser.add_argument("--out", type=Path, default=Path("data/operational"))
    parser.add_argument("--list", action="store_true", help="list the fault kinds and exit")
    args = parser.parse_args(argv)
    if args.list or not args.kinds:
        for f in FAULTS.values():
            print(f"{f.kind:26} {f.domain:10} {f.outcome:7} {f.description}")
        return
    try:
        reports = inject(args.out, args.kinds)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    for r in reports:
        print(json.dumps(r.to_json()))


if __name__ == "__main__":
    main()

"""Named crash points for the crash-safety tests: ``MESH_FAILPOINT=<name>[:<nth>][,…]``.

When the variable names a point, the process SIGKILLs itself the ``nth`` time (default: the
first) it reaches that point — no cleanup handler, no ``finally``, exactly like a machine that
loses power or an OOM kill. Unset (always, outside tests) a failpoint costs one dict lookup.

Points: :data:`BUILD_POINTS`, :data:`PUBLISH_POINTS` (``publish.start``: a port verified and
passed, nothing written yet) and ``publish.governance_recorded``.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "MESH_FAILPOINT"
BUILD_POINTS = ("build.before_dbt", "build.after_dbt")
# in the order one port's publish passes them (mesh_platform/ports/store.py)
PUBLISH_POINTS = (
    "publish.start",
    "publish.temp_written",  # the snapshot's data files written, nothing committed
    "publish.files_placed",  # on S3: uploaded to the table's folder, nothing committed
    "publish.committed",  # the Iceberg commit made the snapshot current
    "publish.expired",  # old snapshots expired from the table, their files not yet removed
    "publish.retention_done",
)
_hits: Counter[str] = Counter()


def failpoint(name: str) -> None:
    spec = os.environ.get(ENV)
    if not spec:
        return
    for item in spec.split(","):
        point, _, nth = item.strip().partition(":")
        if point != name:
            continue
        _hits[name] += 1
        if _hits[name] == int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)

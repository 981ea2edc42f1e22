"""YAML parsing with libyaml's C loader when it is installed.

Descriptors, contracts and governance files are read at every code-location load; the
pure-Python parser spends ~10 ms per file, which is 5 s for a domain of 500 products.
"""

from __future__ import annotations

from typing import Any

import yaml


def safe_load(stream: Any) -> Any:
    """``yaml.safe_load``, faster; raises ``yaml.YAMLError`` on bad input like it."""
    if hasattr(yaml, "CSafeLoader"):
        return yaml.load(stream, Loader=yaml.CSafeLoader)
    return yaml.safe_load(stream)

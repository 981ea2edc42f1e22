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


def round_trip_load(text: str) -> tuple[Any, int, int]:
    """A YAML document as ruamel's round-trip objects, with its block-sequence indentation:
    (data, sequence indent, dash offset). Edit the objects in place and give all three to
    :func:`round_trip_dump`: comments, key order, flow and block styles and quoting of
    everything not edited are kept."""
    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    reader = YAML()  # round-trip mode
    reader.preserve_quotes = True
    data, sequence, offset = load_yaml_guess_indent(text, yaml=reader)
    offset = 2 if offset is None else offset
    return data, sequence or offset + 2, offset


def round_trip_dump(data: Any, sequence: int = 4, offset: int = 2) -> str:
    """The text of a document loaded by :func:`round_trip_load` (long lines never re-wrapped)."""
    import io

    from ruamel.yaml import YAML

    writer = YAML()
    writer.preserve_quotes = True
    writer.width = 4096
    writer.brace_single_entry_mapping_in_flow_sequence = True  # [{type: not_null}]
    writer.indent(mapping=2, sequence=sequence, offset=offset)
    out = io.StringIO()
    writer.dump(data, out)
    return out.getvalue()

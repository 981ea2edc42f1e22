"""Simulated operational (source) systems of Daff, the music-streaming company.

`generate()` writes a deterministic snapshot of every source system the data mesh ingests.
"""

from operational.generate import GenerationReport, generate

__all__ = ["GenerationReport", "generate"]

"""Mesh-level orchestration for the CLI: domains in dependency order, one worker per core,
one new day, and the summary table. The coordinating process never imports Dagster.
"""

"""One adapter per engine for the steps of a domain build that differ between engines.

A domain's engine (``core/engine.py``) picks its dbt target and how the step reaches the
tables dbt built; contract verification, governance, the rejects split and publishing then run
one way for every engine (see ``build/step.py``).
"""

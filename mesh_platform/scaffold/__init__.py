"""Self-serve scaffolding: new domains and products that are governed from the first minute.

Every command first builds a :class:`~mesh_platform.scaffold.plan.Plan` — the exact files it
would create, change or delete — after validating every argument, so a bad argument writes
nothing and ``--dry-run`` can show the plan. Only then is the plan applied, atomically.

- :mod:`.names` validates names, e-mails, teams, domains and port addresses;
- :mod:`.columns` finds a new product's columns (an operational source, an upstream port) and
  derives the model YAML and the Soda contract from the output-port SQL;
- :mod:`.domain` and :mod:`.product` plan ``mesh new domain`` / ``mesh new product``;
- :mod:`.registry` edits the files that list domains and sources (dbt_project.yml,
  workspace.yaml, governance/teams.yaml, sources YAML) without losing their comments;
- :mod:`.lifecycle` plans removing and renaming, refusing while consumers exist;
- :mod:`.doctor` checks a local set-up;
- :mod:`.dbt_import` reads an existing dbt project for ``mesh import dbt`` (summary, port
  contracts from its tests, classification suggestions, the carried/reported/refused report).
"""

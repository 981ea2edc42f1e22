"""The pure model of the mesh: environment, descriptors, domains, the dbt manifest's view,
bindings of ports to models, the contract parser, declared schemas and lineage.

No Dagster, no dbt run, no writes to a pipeline's database: every other layer builds on it.
"""

"""``mesh import dbt``: bring an existing dbt project into the mesh as a new domain.

The layout-independent half, pure functions over a typed summary:

- :mod:`.reader` copies the project, parses it with dbt against a throwaway DuckDB profile
  (optionally builds it empty for column types) and refuses what would be downloaded;
- :mod:`.summarize` turns dbt's manifest into the :mod:`.summary` records and finds what is odd;
- :mod:`.packages` judges packages.yml / dependencies.yml entries before dbt runs;
- :mod:`.contract` writes a port's Soda contract from its model YAML and dbt tests;
- :mod:`.classify` suggests each port column's personal-data classification;
- :mod:`.report` lists what was carried over, reported and refused, by name.

Copying the files into the mesh's layout and writing descriptors is the glue's job (not here).
"""

{#- Incremental models: daily-partitioned models and consumers of daily ports
    (see mesh_platform/ports/changes.py).

    mesh.incremental_config(unique_key, partitioned=false): on DuckDB, incremental
    delete+insert by the model's key (a run replaces the rows of the keys it computed). On
    Spark (Parquet tables: no delete, no merge) a key that is a period (a day, week or month:
    `partitioned=true`) becomes the table's partition column and a run overwrites the
    partitions it computed (dbt-spark's insert_overwrite, dynamic: the same rows as
    delete+insert by that key); any other key (a listener, a session: too many partitions) makes
    the model a plain table, rebuilt whole from all its input at every run — correct, not
    incremental. Elsewhere: a plain table.

    mesh.changed_from(): the first upstream day that changed since the model's step last built,
    as a SQL date — only when the model is incremental and nothing but days of per-day ports
    changed upstream; '' otherwise (first build, a port published whole changed, a full
    rebuild asked for), and then the model rebuilds fully.

    mesh.window_start(default) / mesh.window_end(default): the partition window of a daily
    run (MESH_PARTITION_START/END, end exclusive) as SQL dates, the defaults when no window is
    given. A model that is not incremental on this engine (a plain table, see above) is rebuilt
    whole, so it gets the defaults: a window would leave only its days in the table. -#}

{% macro changed_from() -%}
    {%- set day = env_var('MESH_CHANGED_FROM', '') -%}
    {%- if day and is_incremental() -%} cast('{{ day }}' as date) {%- endif -%}
{%- endmacro %}

{% macro incremental_config(unique_key, partitioned=false) -%}
    {{ return(adapter.dispatch('incremental_config', 'mesh')(unique_key, partitioned)) }}
{%- endmacro %}

{% macro duckdb__incremental_config(unique_key, partitioned) -%}
    {{ config(materialized='incremental', incremental_strategy='delete+insert',
              unique_key=unique_key, on_schema_change='fail') }}
{%- endmacro %}

{% macro spark__incremental_config(unique_key, partitioned) -%}
    {%- if partitioned -%}
        {{ config(materialized='incremental', incremental_strategy='insert_overwrite',
                  partition_by=[unique_key], on_schema_change='fail') }}
    {%- else -%}
        {{ config(materialized='table') }}
    {%- endif -%}
{%- endmacro %}

{% macro default__incremental_config(unique_key, partitioned) -%}
    {{ config(materialized='table') }}
{%- endmacro %}

{% macro window_start(default='1900-01-01') -%}
    {{ mesh._window_bound('MESH_PARTITION_START', default) }}
{%- endmacro %}

{% macro window_end(default='2999-12-31') -%}
    {{ mesh._window_bound('MESH_PARTITION_END', default) }}
{%- endmacro %}

{% macro _window_bound(variable, default) -%}
    {%- set day = env_var(variable, default) -%}
    {%- if config.get('materialized') != 'incremental' -%} {%- set day = default -%} {%- endif -%}
    cast('{{ day }}' as date)
{%- endmacro %}

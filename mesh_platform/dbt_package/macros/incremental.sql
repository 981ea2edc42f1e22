{#- Incremental consumers of daily ports (see mesh_platform/ports/changes.py).

    mesh.changed_from(): the first upstream day that changed since the model's step last built,
    as a SQL date — only when the model is incremental and nothing but days of per-day ports
    changed upstream; '' otherwise (first build, a port published whole changed, a full
    rebuild asked for), and then the model rebuilds fully.

    mesh.incremental_config(unique_key): incremental delete+insert by the model's period key on
    DuckDB; a plain table elsewhere (the Spark build is a one-shot build, and dbt-spark has no
    delete+insert). -#}

{% macro changed_from() -%}
    {%- set day = env_var('MESH_CHANGED_FROM', '') -%}
    {%- if day and is_incremental() -%} cast('{{ day }}' as date) {%- endif -%}
{%- endmacro %}

{% macro incremental_config(unique_key) -%}
    {%- if target.type == 'duckdb' -%}
        {{ config(materialized='incremental', incremental_strategy='delete+insert',
                  unique_key=unique_key, on_schema_change='fail') }}
    {%- else -%}
        {{ config(materialized='table') }}
    {%- endif -%}
{%- endmacro %}

{#- Layers are schemas inside the domain's own DuckDB file: staging, intermediate, marts.

    dbt only takes a `generate_schema_name` override from the root project, so a domain project
    that wants this layout calls it from its own macros/generate_schema_name.sql:
      {% macro generate_schema_name(custom_schema_name, node) -%}
          {{ mesh.layer_schema(custom_schema_name, node) }}
      {%- endmacro %} -#}
{% macro layer_schema(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}

{#- Layers are schemas inside the domain's own file: staging, intermediate, marts. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}

{#- The mesh's layout: layers are schemas inside the domain's own file (staging, marts, ...). -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ mesh.layer_schema(custom_schema_name, node) }}
{%- endmacro %}

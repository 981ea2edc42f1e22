{#- The mesh's standard treatments of personal data (governance/personal_data.yaml).
    Use them in output-port models so the governance check finds what it expects:
      {{ mesh.hash('email') }}  hex SHA-256 of the trimmed, lowercase value (joinable, not reversible)
      {{ mesh.mask('full_name') }}  null, or the first character followed by '***'
    Dispatched per adapter so the same models run on DuckDB and Spark. -#}

{% macro hash(expression) -%}
    {{ return(adapter.dispatch('hash', 'mesh')(expression)) }}
{%- endmacro %}

{% macro default__hash(expression) -%}
    sha256(lower(trim(cast({{ expression }} as varchar))))
{%- endmacro %}

{% macro spark__hash(expression) -%}
    sha2(lower(trim(cast({{ expression }} as string))), 256)
{%- endmacro %}

{% macro mask(expression) -%}
    case when {{ expression }} is null then null
         else concat(left(cast({{ expression }} as {{ dbt.type_string() }}), 1), '***') end
{%- endmacro %}

{#- Portable SQL: the few expressions spelled differently on the engines a domain builds on
    (DuckDB, Spark), dispatched per adapter so that a model is written once. dbt's own
    cross-database macros cover the rest (dbt.type_string(), dbt.date_trunc, dbt.dateadd, ...);
    the models themselves keep to SQL both engines read alike (quote identifiers with
    adapter.quote, cast to text with dbt.type_string()). `default__` is DuckDB's spelling.

      {{ mesh.json_fields('line', ['id', 'ts']) }}  a struct of the JSON object's fields as
            text (a number as its digits, an object as its JSON); null fields when the text is
            not a JSON object — field access: `event.id`
      {{ mesh.try_timestamp_utc('ts_text') }}  an ISO-8601 text as a timestamp in UTC (an
            offset such as `Z` honoured), null when it cannot be parsed
      {{ mesh.epoch_seconds('ts') }}  seconds since 1970-01-01 UTC, with the fraction (double)
      {{ mesh.unnest('list') }}  in a select list: one row per element (none for an empty or
            null list)
      {{ mesh.array_size('list') }}  number of elements; null for a null list -#}

{% macro json_fields(json_text, fields) -%}
    {{ return(adapter.dispatch('json_fields', 'mesh')(json_text, fields)) }}
{%- endmacro %}

{% macro default__json_fields(json_text, fields) -%}
    {#- one parse per text into a struct of texts (json_transform), not one per field: the same
        values as `->>` (a non-object text gives nulls), at half the cost on 10M lines -#}
    {%- set shape = [] -%}
    {%- for field in fields -%} {%- do shape.append('"' ~ field ~ '": "VARCHAR"') -%} {%- endfor -%}
    case when json_valid({{ json_text }}) then json_transform({{ json_text }}, '{ {{- shape | join(", ") -}} }') end
{%- endmacro %}

{% macro spark__json_fields(json_text, fields) -%}
    {#- from_json gives a struct of nulls for a text that is not a JSON object -#}
    {%- set shape = [] -%}
    {%- for field in fields -%} {%- do shape.append('`' ~ field ~ '` STRING') -%} {%- endfor -%}
    from_json({{ json_text }}, '{{ shape | join(", ") }}')
{%- endmacro %}

{% macro try_timestamp_utc(text) -%}
    {{ return(adapter.dispatch('try_timestamp_utc', 'mesh')(text)) }}
{%- endmacro %}

{% macro default__try_timestamp_utc(text) -%}
    timezone('UTC', try_cast({{ text }} as timestamptz))
{%- endmacro %}

{% macro spark__try_timestamp_utc(text) -%}
    {#- Spark's timestamp is an instant: an offset in the text is honoured, and the session
        time zone (UTC in the mesh's profile) reads a text without one -#}
    try_cast({{ text }} as timestamp)
{%- endmacro %}

{% macro epoch_seconds(timestamp) -%}
    {{ return(adapter.dispatch('epoch_seconds', 'mesh')(timestamp)) }}
{%- endmacro %}

{% macro default__epoch_seconds(timestamp) -%}
    epoch({{ timestamp }})
{%- endmacro %}

{% macro spark__epoch_seconds(timestamp) -%}
    (unix_micros({{ timestamp }}) / 1e6)
{%- endmacro %}

{% macro unnest(list) -%}
    {{ return(adapter.dispatch('unnest', 'mesh')(list)) }}
{%- endmacro %}

{% macro default__unnest(list) -%}
    unnest({{ list }})
{%- endmacro %}

{% macro spark__unnest(list) -%}
    explode({{ list }})
{%- endmacro %}

{% macro array_size(list) -%}
    {{ return(adapter.dispatch('array_size', 'mesh')(list)) }}
{%- endmacro %}

{% macro default__array_size(list) -%}
    len({{ list }})
{%- endmacro %}

{% macro spark__array_size(list) -%}
    array_size({{ list }})
{%- endmacro %}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        on_schema_change='fail',
    )
}}

{#- Daily-partitioned like play_events: a run rebuilds exactly the days of its partition window
    (MESH_PARTITION_START/END, end exclusive), so a new day costs a day, not the history. -#}

with

plays as (

    select * from {{ ref('play_events') }}
    where event_date >= cast('{{ env_var("MESH_PARTITION_START", "1900-01-01") }}' as date)
      and event_date < cast('{{ env_var("MESH_PARTITION_END", "2999-12-31") }}' as date)

),

aggregated as (

    select
        event_date,
        track_id,
        country_code,
        count(*) as plays,
        count(distinct listener_id) as listeners,
        cast(sum(ms_played) as bigint) as ms_played,
        count(*) filter (where completed) as completed_plays

    from plays
    group by event_date, track_id, country_code

)

select * from aggregated

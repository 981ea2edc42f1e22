{{ mesh.incremental_config(unique_key='event_date', partitioned=true) }}

{#- Daily-partitioned like play_events: a run rebuilds exactly the days of its partition window
    (MESH_PARTITION_START/END, end exclusive), so a new day costs a day, not the history. -#}

with

plays as (

    select * from {{ ref('play_events') }}
    where event_date >= {{ mesh.window_start() }}
      and event_date < {{ mesh.window_end() }}

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

{#- ISO weeks: date_trunc('week', ...) returns the Monday of the week (DuckDB and Spark). -#}

with

daily as (

    select * from {{ ref('stg_recommendations_playback_ports__daily_track_plays') }}

),

weekly as (

    select
        cast(date_trunc('week', event_date) as date) as week_start,
        country_code,
        track_id,
        cast(sum(plays) as bigint) as plays

    from daily
    group by 1, 2, 3

)

select * from weekly

with

plays as (

    select * from {{ ref('stg_listeners_playback_ports__play_events') }}

),

monthly as (

    select
        cast(date_trunc('month', event_date) as date) as month,
        listener_id,
        cast(count(*) as bigint) as plays,
        cast(sum(ms_played) / 60000.0 as double) as minutes_played,
        cast(count(distinct track_id) as bigint) as distinct_tracks,
        cast(count(distinct event_date) as bigint) as active_days,
        cast(count(distinct device) as bigint) as devices

    from plays
    group by 1, 2

)

select * from monthly

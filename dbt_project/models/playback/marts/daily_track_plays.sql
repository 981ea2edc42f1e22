with

plays as (

    select * from {{ ref('play_events') }}

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

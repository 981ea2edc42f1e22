with

plays as (

    select * from {{ ref('play_events') }}

),

sessions as (

    select
        session_id,
        any_value(listener_id) as listener_id,
        min(played_at) as started_at,
        max(played_at) as last_play_at,
        count(*) as plays,
        cast(sum(ms_played) as bigint) as ms_played,
        mode(device) as device

    from plays
    group by session_id

)

select * from sessions

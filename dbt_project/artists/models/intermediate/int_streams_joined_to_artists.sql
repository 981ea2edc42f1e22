{#- A play counts as a royalty-bearing stream once at least 30 seconds were played. -#}

with

plays as (

    select * from {{ ref('stg_artists_playback_ports__play_events') }}

),

tracks as (

    select * from {{ ref('stg_artist_management__tracks') }}

),

streams as (

    select * from plays
    where ms_played >= 30000

),

joined as (

    select
        streams.event_id,
        streams.listener_id,
        streams.track_id,
        tracks.artist_id,
        streams.event_date,
        -- 'YYYY-MM' portably: a date's ISO text on every engine, cut after the month
        substring(cast(streams.event_date as {{ dbt.type_string() }}), 1, 7) as period_month,
        streams.ms_played

    from streams
    inner join tracks
        on streams.track_id = tracks.track_id

)

select * from joined

{#- Left join: every play is kept even if its track were missing from the catalog, so play
    counts always reconcile with playback; genre and artist are then NULL. -#}

with

plays as (

    select * from {{ ref('stg_recommendations_playback_ports__play_events') }}

),

tracks as (

    select * from {{ ref('stg_recommendations_artists_ports__track_catalog') }}

),

joined as (

    select
        plays.event_id,
        plays.listener_id,
        plays.track_id,
        tracks.artist_id,
        tracks.genre,
        plays.played_at

    from plays
    left join tracks
        on plays.track_id = tracks.track_id

)

select * from joined

with

source as (

    select * from {{ source('artists_playback_ports', 'play_events') }}

),

renamed as (

    select
        event_id,
        listener_id,
        track_id,
        event_date,
        ms_played

    from source

)

select * from renamed

with

source as (

    select * from {{ source('recommendations_playback_ports', 'play_events') }}

),

renamed as (

    select
        event_id,
        listener_id,
        track_id,
        played_at,
        event_date

    from source

)

select * from renamed

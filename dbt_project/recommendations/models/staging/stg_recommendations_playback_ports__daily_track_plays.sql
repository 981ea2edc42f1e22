with

source as (

    select * from {{ source('recommendations_playback_ports', 'daily_track_plays') }}

),

renamed as (

    select
        event_date,
        track_id,
        country_code,
        plays

    from source

)

select * from renamed

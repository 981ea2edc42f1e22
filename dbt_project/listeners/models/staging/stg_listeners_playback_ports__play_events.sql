with

source as (

    select * from {{ source('listeners_playback_ports', 'play_events') }}

),

renamed as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(listener_id as bigint) as listener_id,
        cast(track_id as {{ dbt.type_string() }}) as track_id,
        cast(played_at as timestamp) as played_at,
        cast(event_date as date) as event_date,
        cast(ms_played as bigint) as ms_played,
        cast(device as {{ dbt.type_string() }}) as device

    from source

)

select * from renamed

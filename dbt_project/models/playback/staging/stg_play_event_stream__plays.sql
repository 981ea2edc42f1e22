with

source as (

    select * from {{ source('play_event_stream', 'plays') }}

),

renamed as (

    select
        cast(event_id as varchar) as event_id,
        cast(listener_id as bigint) as listener_id,
        cast(track_id as varchar) as track_id,
        cast(session_id as varchar) as session_id,
        -- the stream stamps UTC with a trailing Z: keep UTC whatever the session time zone
        timezone('UTC', cast(played_at as timestamptz)) as played_at,
        cast("date" as date) as event_date,
        cast(ms_played as bigint) as ms_played,
        cast(device as varchar) as device,
        upper(cast(country_code as varchar)) as country_code,
        cast(completed as boolean) as completed

    from source

)

select * from renamed

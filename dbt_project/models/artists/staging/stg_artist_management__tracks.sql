with

source as (

    select * from {{ source('artist_management', 'tracks') }}

),

renamed as (

    select
        cast(track_id as varchar) as track_id,
        cast(artist_id as varchar) as artist_id,
        cast(title as varchar) as title,
        cast(genre as varchar) as genre,
        cast(duration_ms as bigint) as duration_ms,
        cast(released_on as date) as released_on

    from source

)

select * from renamed

with

source as (

    select * from {{ source('recommendations_artists_ports', 'track_catalog') }}

),

renamed as (

    select
        track_id,
        artist_id,
        title,
        genre

    from source

)

select * from renamed

with

source as (

    select * from {{ source('artist_management', 'tracks') }}

),

renamed as (

    select
        cast(track_id as {{ dbt.type_string() }}) as track_id,
        cast(artist_id as {{ dbt.type_string() }}) as artist_id,
        cast(title as {{ dbt.type_string() }}) as title,
        cast(genre as {{ dbt.type_string() }}) as genre,
        cast(duration_ms as bigint) as duration_ms,
        cast(released_on as date) as released_on

    from source

)

select * from renamed

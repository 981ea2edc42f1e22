with

source as (

    select * from {{ source('artist_management', 'artists') }}

),

renamed as (

    select
        cast(artist_id as varchar) as artist_id,
        cast(artist_name as varchar) as artist_name,
        upper(cast(country_code as varchar)) as country_code,
        cast(genre as varchar) as genre,
        nullif(trim(cast("label" as varchar)), '') as label,
        cast(onboarded_at as date) as onboarded_on

    from source

)

select * from renamed

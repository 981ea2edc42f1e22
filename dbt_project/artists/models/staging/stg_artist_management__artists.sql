with

source as (

    select * from {{ source('artist_management', 'artists') }}

),

renamed as (

    select
        cast(artist_id as {{ dbt.type_string() }}) as artist_id,
        cast(artist_name as {{ dbt.type_string() }}) as artist_name,
        upper(cast(country_code as {{ dbt.type_string() }})) as country_code,
        cast(genre as {{ dbt.type_string() }}) as genre,
        nullif(trim(cast({{ adapter.quote('label') }} as {{ dbt.type_string() }})), '') as label,
        cast(onboarded_at as date) as onboarded_on

    from source

)

select * from renamed

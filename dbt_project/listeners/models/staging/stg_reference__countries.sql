with

source as (

    select * from {{ source('reference', 'countries') }}

),

renamed as (

    select
        upper(cast(country_code as varchar)) as country_code,
        cast(country_name as varchar) as country_name,
        cast(region as varchar) as region

    from source

)

select * from renamed

with

source as (

    select * from {{ source('reference', 'countries') }}

),

renamed as (

    select
        upper(cast(country_code as {{ dbt.type_string() }})) as country_code,
        cast(country_name as {{ dbt.type_string() }}) as country_name,
        cast(region as {{ dbt.type_string() }}) as region

    from source

)

select * from renamed

with

source as (

    select * from {{ source('registration', 'listeners') }}

),

renamed as (

    select
        cast(listener_id as bigint) as listener_id,
        cast(email as {{ dbt.type_string() }}) as email,
        cast(full_name as {{ dbt.type_string() }}) as full_name,
        cast(birth_date as date) as birth_date,
        upper(cast(country_code as {{ dbt.type_string() }})) as country_code,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(signed_up_at as timestamp) as signed_up_at,
        cast(updated_at as timestamp) as updated_at

    from source

)

select * from renamed

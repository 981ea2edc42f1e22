with

source as (

    select * from {{ source('reference', 'plans') }}

),

renamed as (

    select
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(plan_name as {{ dbt.type_string() }}) as plan_name,
        cast(monthly_price_eur as decimal(12, 2)) as monthly_price_eur,
        cast(max_members as integer) as max_members

    from source

)

select * from renamed

with

source as (

    select * from {{ source('registration', 'subscriptions') }}

),

renamed as (

    select
        cast(subscription_id as bigint) as subscription_id,
        cast(listener_id as bigint) as listener_id,
        cast(plan_id as {{ dbt.type_string() }}) as plan_id,
        cast(started_at as timestamp) as started_at,
        cast(ended_at as timestamp) as ended_at

    from source

)

select * from renamed

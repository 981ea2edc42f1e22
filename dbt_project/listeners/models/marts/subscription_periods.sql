with

subscriptions as (

    select * from {{ ref('int_subscriptions_enriched') }}

),

final as (

    select
        subscription_id,
        listener_id,
        plan_id,
        plan_name,
        cast(monthly_price_eur as double) as monthly_price_eur,
        started_at,
        ended_at,
        is_active,
        days_active

    from subscriptions

)

select * from final

{#- Subscription periods with their plan and how long they have been active. "Now" is the
    end of the data window (the latest start or end in the table), never the wall clock, so a
    rebuild over the same data gives the same numbers. -#}

with

subscriptions as (

    select * from {{ ref('stg_registration__subscriptions') }}

),

plans as (

    select * from {{ ref('stg_reference__plans') }}

),

as_of as (

    select greatest(max(started_at), coalesce(max(ended_at), max(started_at))) as as_of_at
    from subscriptions

),

enriched as (

    select
        subscriptions.subscription_id,
        subscriptions.listener_id,
        subscriptions.plan_id,
        plans.plan_name,
        plans.monthly_price_eur,
        subscriptions.started_at,
        subscriptions.ended_at,
        subscriptions.ended_at is null as is_active,
        cast(
            floor(
                ({{ mesh.epoch_seconds('coalesce(subscriptions.ended_at, as_of.as_of_at)') }}
                    - {{ mesh.epoch_seconds('subscriptions.started_at') }}) / 86400
            ) as integer
        ) as days_active

    from subscriptions
    cross join as_of
    left join plans on subscriptions.plan_id = plans.plan_id

)

select * from enriched

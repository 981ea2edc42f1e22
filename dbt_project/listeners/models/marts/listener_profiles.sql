with

listeners as (

    select * from {{ ref('stg_registration__listeners') }}

),

countries as (

    select * from {{ ref('stg_reference__countries') }}

),

plans as (

    select * from {{ ref('stg_reference__plans') }}

),

open_subscriptions as (

    select distinct listener_id
    from {{ ref('int_subscriptions_enriched') }}
    where is_active

),

final as (

    select
        listeners.listener_id,
        {{ mesh.hash('listeners.email') }} as email_sha256,
        cast(year(listeners.birth_date) as integer) as birth_year,
        listeners.country_code,
        countries.region,
        listeners.plan_id,
        plans.plan_name,
        listeners.signed_up_at,
        listeners.updated_at,
        open_subscriptions.listener_id is not null as is_subscribed

    from listeners
    left join countries on listeners.country_code = countries.country_code
    left join plans on listeners.plan_id = plans.plan_id
    left join open_subscriptions on listeners.listener_id = open_subscriptions.listener_id

)

select * from final

with

source as (

    select * from {{ source('artist_management', 'payments') }}

),

renamed as (

    select
        cast(payment_id as {{ dbt.type_string() }}) as payment_id,
        cast(artist_id as {{ dbt.type_string() }}) as artist_id,
        cast(period_month as {{ dbt.type_string() }}) as period_month,
        cast(amount_eur as decimal(12, 2)) as amount_eur,
        cast(paid_at as timestamp) as paid_at

    from source

)

select * from renamed

with

payments as (

    select * from {{ ref('stg_artist_management__payments') }}

),

final as (

    select
        payment_id,
        artist_id,
        period_month,
        amount_eur,
        paid_at

    from payments

)

select * from final

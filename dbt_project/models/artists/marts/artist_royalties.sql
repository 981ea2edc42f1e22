{%- set royalty_eur_per_stream = 0.0035 -%}

with

streams as (

    select * from {{ ref('int_streams_joined_to_artists') }}

),

aggregated as (

    select
        period_month,
        artist_id,
        cast(count(*) as bigint) as streams,
        cast(count(distinct listener_id) as bigint) as listeners

    from streams
    group by period_month, artist_id

),

final as (

    select
        period_month,
        artist_id,
        streams,
        listeners,
        cast(streams * {{ royalty_eur_per_stream }} as decimal(12, 4)) as royalty_eur

    from aggregated
    where streams > 0

)

select * from final

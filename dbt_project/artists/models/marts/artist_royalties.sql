{%- set royalty_eur_per_stream = 0.0035 -%}
{{ mesh.incremental_config(unique_key='period_month', partitioned=true) }}
{#- Incremental: when only days of the play_events port changed, the months from the first
    changed day on are recomputed (whole months: delete+insert by period_month). -#}
{%- set changed_from = mesh.changed_from() %}

with

streams as (

    select * from {{ ref('int_streams_joined_to_artists') }}
    {%- if changed_from %}
    where event_date >= cast(date_trunc('month', {{ changed_from }}) as date)
    {%- endif %}

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

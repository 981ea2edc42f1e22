{{ mesh.incremental_config(unique_key='month', partitioned=true) }}
{#- Incremental: when only days of the play_events port changed, the months from the first
    changed day on are recomputed (whole months: delete+insert by month). -#}
{%- set changed_from = mesh.changed_from() %}

with

plays as (

    select * from {{ ref('stg_listeners_playback_ports__play_events') }}
    {%- if changed_from %}
    where event_date >= cast(date_trunc('month', {{ changed_from }}) as date)
    {%- endif %}

),

monthly as (

    select
        cast(date_trunc('month', event_date) as date) as month,
        listener_id,
        cast(count(*) as bigint) as plays,
        cast(sum(ms_played) as double) / 60000 as minutes_played,
        cast(count(distinct track_id) as bigint) as distinct_tracks,
        cast(count(distinct event_date) as bigint) as active_days,
        cast(count(distinct device) as bigint) as devices

    from plays
    group by 1, 2

)

select * from monthly

{%- set chart_size = 50 -%}
{{ mesh.incremental_config(unique_key='week_start', partitioned=true) }}
{#- Incremental: when only days of the daily_track_plays port changed (and the track catalog
    did not), the weeks from the first changed day on are recomputed (delete+insert by week). -#}
{%- set changed_from = mesh.changed_from() %}

with

weekly as (

    select * from {{ ref('int_track_plays_aggregated_to_weeks') }}
    {%- if changed_from %}
    where week_start >= cast(date_trunc('week', {{ changed_from }}) as date)
    {%- endif %}

),

tracks as (

    select * from {{ ref('stg_recommendations_artists_ports__track_catalog') }}

),

ranked as (

    select
        week_start,
        country_code,
        cast(
            row_number() over (
                partition by week_start, country_code order by plays desc, track_id
            ) as integer
        ) as rank,
        track_id,
        plays

    from weekly

),

final as (

    select
        ranked.week_start,
        ranked.country_code,
        ranked.rank,
        ranked.track_id,
        tracks.artist_id,
        tracks.title,
        ranked.plays

    from ranked
    left join tracks
        on ranked.track_id = tracks.track_id
    where ranked.rank <= {{ chart_size }}

)

select * from final

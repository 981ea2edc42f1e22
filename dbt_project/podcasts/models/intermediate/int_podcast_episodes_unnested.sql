with

shows as (

    select * from {{ ref('int_podcast_shows_unnested') }}

),

episodes as (

    select
        show_id,
        {{ mesh.unnest('episodes') }} as episode_record

    from shows

),

typed as (

    select
        cast(episode_record.episode_id as {{ dbt.type_string() }}) as episode_id,
        show_id,
        cast(episode_record.title as {{ dbt.type_string() }}) as title,
        cast(episode_record.published_at as timestamp) as published_at,
        cast(episode_record.duration_seconds as bigint) as duration_seconds

    from episodes

)

select * from typed

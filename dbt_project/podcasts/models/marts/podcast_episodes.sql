with

episodes as (

    select * from {{ ref('int_podcast_episodes_unnested') }}

),

final as (

    select
        episode_id,
        show_id,
        title,
        published_at,
        duration_seconds

    from episodes

)

select * from final

with

shows as (

    select * from {{ ref('int_podcast_shows_unnested') }}

),

final as (

    select
        show_id,
        title,
        publisher,
        language,
        category,
        explicit,
        created_at,
        cast(coalesce({{ mesh.array_size('episodes') }}, 0) as bigint) as episode_count

    from shows

)

select * from final

with

artists as (

    select * from {{ ref('stg_artist_management__artists') }}

),

tracks as (

    select * from {{ ref('stg_artist_management__tracks') }}

),

track_counts as (

    select
        artist_id,
        count(*) as track_count

    from tracks
    group by artist_id

),

final as (

    select
        artists.artist_id,
        artists.artist_name,
        artists.country_code,
        artists.genre,
        artists.label,
        artists.onboarded_on,
        cast(coalesce(track_counts.track_count, 0) as bigint) as track_count

    from artists
    left join track_counts
        on artists.artist_id = track_counts.artist_id

)

select * from final

{#- Ties for the top genre / artist are broken by name, so the profile is deterministic. -#}

-- depends_on: {{ ref('stg_recommendations_playback_ports__play_events') }}
{{ mesh.incremental_config(unique_key='listener_id') }}
{#- Incremental: when only days of the play_events port changed (and the track catalog did
    not), only the listeners who played on those days get their profile recomputed — from their
    whole history (delete+insert by listener). -#}
{%- set changed_from = mesh.changed_from() %}

with

plays as (

    select * from {{ ref('int_plays_joined_to_tracks') }}
    {%- if changed_from %}
    where listener_id in (
        select listener_id from {{ ref('stg_recommendations_playback_ports__play_events') }}
        where event_date >= {{ changed_from }}
    )
    {%- endif %}

),

listener_totals as (

    select
        listener_id,
        count(*) as plays,
        count(distinct genre) as genres_played

    from plays
    group by listener_id

),

genre_plays as (

    select
        listener_id,
        genre,
        count(*) as genre_plays

    from plays
    where genre is not null
    group by listener_id, genre

),

top_genres as (

    select
        listener_id,
        genre as top_genre,
        genre_plays as top_genre_plays

    from genre_plays
    qualify row_number() over (
        partition by listener_id order by genre_plays desc, genre
    ) = 1

),

artist_plays as (

    select
        listener_id,
        artist_id,
        count(*) as artist_plays

    from plays
    where artist_id is not null
    group by listener_id, artist_id

),

top_artists as (

    select
        listener_id,
        artist_id as top_artist_id

    from artist_plays
    qualify row_number() over (
        partition by listener_id order by artist_plays desc, artist_id
    ) = 1

),

final as (

    select
        listener_totals.listener_id,
        top_genres.top_genre,
        cast(top_genres.top_genre_plays as double)
            / cast(listener_totals.plays as double) as top_genre_share,
        cast(listener_totals.genres_played as bigint) as genres_played,
        top_artists.top_artist_id,
        cast(listener_totals.plays as bigint) as plays

    from listener_totals
    left join top_genres
        on listener_totals.listener_id = top_genres.listener_id
    left join top_artists
        on listener_totals.listener_id = top_artists.listener_id

)

select * from final

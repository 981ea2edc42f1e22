with

tracks as (

    select * from {{ ref('stg_artist_management__tracks') }}

),

final as (

    select
        track_id,
        artist_id,
        title,
        genre,
        duration_ms,
        released_on

    from tracks

)

select * from final

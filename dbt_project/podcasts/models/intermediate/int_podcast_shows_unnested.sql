with

pages as (

    select * from {{ ref('stg_podcast_api__pages') }}

),

shows as (

    select
        page_number,
        unnest(shows) as show_record

    from pages

),

typed as (

    select
        cast(show_record.show_id as varchar) as show_id,
        cast(show_record.title as varchar) as title,
        cast(show_record.publisher as varchar) as publisher,
        cast(show_record.language as varchar) as language,
        cast(show_record.category as varchar) as category,
        cast(show_record.explicit as boolean) as explicit,
        cast(show_record.created_at as timestamp) as created_at,
        show_record.episodes as episodes,
        page_number

    from shows

)

select * from typed

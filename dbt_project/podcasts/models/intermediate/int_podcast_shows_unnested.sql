with

pages as (

    select * from {{ ref('stg_podcast_api__pages') }}

),

shows as (

    select
        page_number,
        {{ mesh.unnest('shows') }} as show_record

    from pages

),

typed as (

    select
        cast(show_record.show_id as {{ dbt.type_string() }}) as show_id,
        cast(show_record.title as {{ dbt.type_string() }}) as title,
        cast(show_record.publisher as {{ dbt.type_string() }}) as publisher,
        cast(show_record.language as {{ dbt.type_string() }}) as language,
        cast(show_record.category as {{ dbt.type_string() }}) as category,
        cast(show_record.explicit as boolean) as explicit,
        cast(show_record.created_at as timestamp) as created_at,
        show_record.episodes as episodes,
        page_number

    from shows

)

select * from typed

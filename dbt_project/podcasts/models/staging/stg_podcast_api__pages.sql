with

source as (

    select * from {{ source('podcast_api', 'pages') }}

),

renamed as (

    select
        cast(page as bigint) as page_number,
        cast(page_size as bigint) as page_size,
        cast(total_shows as bigint) as total_shows,
        cast(next_page as bigint) as next_page_number,
        shows,
        cast(filename as {{ dbt.type_string() }}) as source_file

    from source

)

select * from renamed

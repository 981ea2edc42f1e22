with

source as (

    select * from {{ source('registration', 'profile_changes') }}

),

renamed as (

    select
        cast(change_id as bigint) as change_id,
        cast(listener_id as bigint) as listener_id,
        cast(changed_at as timestamp) as changed_at,
        cast(field as {{ dbt.type_string() }}) as field,
        cast(old_value as {{ dbt.type_string() }}) as old_value,
        cast(new_value as {{ dbt.type_string() }}) as new_value

    from source

)

select * from renamed

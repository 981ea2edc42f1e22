{#- A change feed others may keep: PII never leaves the domain. Email values are replaced by
    the SHA-256 of their lowercase form (the same hash as listener_profiles.email_sha256) and
    full names are masked to null; the change itself stays visible. -#}

with

changes as (

    select * from {{ ref('stg_registration__profile_changes') }}

),

masked as (

    select
        change_id,
        listener_id,
        changed_at,
        field,
        case
            when field = 'email' then {{ mesh.hash('old_value') }}
            when field = 'full_name' then null
            else old_value
        end as old_value,
        case
            when field = 'email' then {{ mesh.hash('new_value') }}
            when field = 'full_name' then null
            else new_value
        end as new_value

    from changes

)

select * from masked

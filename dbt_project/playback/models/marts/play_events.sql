{{ mesh.incremental_config(unique_key='event_date', partitioned=true) }}

{#- Daily-partitioned: the platform passes the partition window in MESH_PARTITION_START/END
    (end exclusive), so a run rebuilds exactly the days it was asked for (delete+insert by day
    on DuckDB, the days' partitions overwritten on Spark: reruns stay idempotent). -#}

with

plays as (

    select * from {{ ref('stg_play_event_stream__plays') }}
    where event_date >= {{ mesh.window_start() }}
      and event_date < {{ mesh.window_end() }}
       -- lines of a day folder whose name is not a date belong to no day (staging writes the
       -- contract's missing day): every run takes them, and the contract rejects them (or
       -- blocks, above max_share) until they are moved
       or event_date = date '1970-01-01'

),

final as (

    -- An event line whose key is missing (or unparseable) still becomes a row: the port
    -- publishes partially and its contract rejects these rows, with their reason, into the
    -- rejects table. Staging already wrote a missing key as the contract's declared missing
    -- value (the port's columns are not null); its raw_line stays out of the port.
    select
        event_id,
        listener_id,
        track_id,
        session_id,
        played_at,
        event_date,
        ms_played,
        device,
        country_code,
        completed

    from plays

)

select * from final

{#- Every line of the stream becomes exactly one row, whatever it holds. A line that is not
    JSON, or a field of the wrong type or an unparseable timestamp, surfaces as nulls that the
    port's contract rejects with a reason (play_events publishes partially, see its descriptor),
    so a bad line can neither fail the whole read nor vanish. A line longer than 64 KiB (a play
    event is about 200 bytes) is not parsed at all: it gives nulls too, so a huge line costs no
    JSON document in memory. A day folder whose name is not a date (`date=2026-02-30`) gives a
    null event_date, rejected by the port's contract rather than failing the read.

    The values are the port's (play_events selects them as they are): the port's columns are
    not null, so a missing key is written as the contract's declared missing value ('' / -1 /
    the epoch, and 1970-01-01 for the day). `raw_line`, the line's first 1,000 characters, is
    not a port column: a row the port rejects keeps the raw line of the row equal to it here
    (the descriptor's bad_rows.raw_text), for the port's owners only. -#}

with

source as (

    select * from {{ source('play_event_stream', 'plays') }}

),

parsed as (

    -- one parse per line into a struct of texts (see mesh.json_fields): a line that is not a
    -- JSON object gives nulls
    select
        {{ mesh.json_fields('case when length(line) <= 65536 then line end', [
            'event_id', 'listener_id', 'track_id', 'session_id', 'played_at', 'ms_played',
            'device', 'country_code', 'completed',
        ]) }} as event,
        left(line, 1000) as raw_line,
        {{ adapter.quote('date') }}

    from source

),

renamed as (

    select
        coalesce(event.event_id, '') as event_id,
        coalesce(try_cast(event.listener_id as bigint), -1) as listener_id,
        coalesce(event.track_id, '') as track_id,
        event.session_id as session_id,
        -- the stream stamps UTC with a trailing Z: keep UTC whatever the session time zone
        coalesce(
            {{ mesh.try_timestamp_utc('event.played_at') }}, timestamp '1970-01-01'
        ) as played_at,
        coalesce(try_cast({{ adapter.quote('date') }} as date), date '1970-01-01') as event_date,
        try_cast(event.ms_played as bigint) as ms_played,
        event.device as device,
        upper(event.country_code) as country_code,
        try_cast(event.completed as boolean) as completed,
        raw_line

    from parsed

)

select * from renamed

-- Events, kept as EVE JSON.
--
-- Only what identifies a row or drives retention is a real column. Everything a filter looks
-- at stays inside the JSON and is reached through expression indexes, so a new EVE field
-- never needs a schema change, and the stored text is exactly what sinks wrote.
CREATE TABLE events (
    -- Insert order: the cursor that `picket alerts --follow` resumes from.
    id      INTEGER PRIMARY KEY,
    -- The sender as the transport authenticated it, never as the payload claims.
    source  TEXT    NOT NULL,
    -- The sender's spool epoch: a new epoch restarts its sequence numbers.
    epoch   INTEGER NOT NULL DEFAULT 0,
    -- The sender's sequence number (u64 stored as its i64 bit pattern). NULL for records
    -- that have none (upstream qubes.Log lines), which therefore are never deduplicated.
    seq     INTEGER,
    -- 0 for the event itself; 1, 2... for alerts the manager derived from it.
    part    INTEGER NOT NULL DEFAULT 0,
    -- Event time in microseconds since the epoch. Extracted because EVE timestamps carry a
    -- UTC offset, so their text does not sort across senders in different zones.
    ts      INTEGER NOT NULL,
    -- The EVE event_type, also inside the JSON. A json_extract index on it parsed every
    -- row's JSON on insert: measured, that was over a third of the insert CPU. Written by
    -- the store from the same Event, so the two cannot disagree.
    event_type TEXT NOT NULL,
    eve     TEXT    NOT NULL,
    -- At-least-once delivery resends; this makes the resend a no-op.
    UNIQUE (source, epoch, seq, part)
);

CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_event_type ON events (event_type);

-- Alert fields are indexed for alerts only: other rows would add NULL entries, and parse
-- their JSON on insert, for nothing.
CREATE INDEX events_alert_signature_id ON events (json_extract(eve, '$.alert.signature_id'))
    WHERE event_type = 'alert';
CREATE INDEX events_alert_severity ON events (json_extract(eve, '$.alert.severity'))
    WHERE event_type = 'alert';
CREATE INDEX events_alert_level ON events (json_extract(eve, '$.picket.level'))
    WHERE event_type = 'alert';

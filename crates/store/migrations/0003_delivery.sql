-- The transport's per-source delivery state (epoch, highest sequence stored, counters),
-- written in the same transaction as the records it describes, so that a manager killed
-- mid-stream restarts with an acknowledgement that matches what is really stored.
CREATE TABLE delivery (
    source      TEXT    PRIMARY KEY,
    epoch       INTEGER NOT NULL,
    stored      INTEGER NOT NULL,
    duplicates  INTEGER NOT NULL DEFAULT 0,
    gaps        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

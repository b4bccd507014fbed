-- When each source was last heard from, so that a silent one can raise its own alert.
-- Times are the manager's clock (microseconds since the epoch), not the sender's claims.
CREATE TABLE sources (
    name        TEXT    PRIMARY KEY,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    events      INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX sources_last_seen ON sources (last_seen);

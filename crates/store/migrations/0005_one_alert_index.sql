-- One alert index instead of four. The rule, severity and level indexes each took alert rows
-- in the middle of their B-tree, at one place per distinct value, and that cost more than
-- the table itself (measured with 40 rules, 16 levels and 3 severities: the three indexes
-- were over 40 % of the store's insert CPU). This index takes every alert at its right end,
-- in id order, and carries the filter columns: `picket alerts` walks it newest first,
-- tests time, rule, severity and level in the index alone, and reads the table only for
-- rows that match, stopping at the limit. A filter that matches almost nothing therefore
-- reads the whole index (about 25 bytes per alert) unless a time filter bounds the walk
-- (`since` finds its first id through `events_ts`; see `AlertQuery`).
DROP INDEX events_alert_id;
DROP INDEX events_alert_rule;
DROP INDEX events_alert_severity;
DROP INDEX events_alert_level;

CREATE INDEX events_alert ON events (id, ts, rule, severity, level) WHERE event_type = 'alert';

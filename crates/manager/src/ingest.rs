use picket_event::{json, Alert, Event, Timestamp};
use picket_hids::{Input, Limits, Outcome, Ruleset, Session};
use picket_store::{AlertColumns, Key, Store};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;

/// What ingest can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store refused the batch; nothing of it was committed, so the transport must not
    /// acknowledge it.
    #[error(transparent)]
    Store(#[from] picket_store::Error),
}

/// One received record: the sender's sequence number (`None` when the protocol has none,
/// as with upstream `qubes.Log` lines) and the event.
#[derive(Debug, Clone)]
pub struct Sequenced {
    pub seq: Option<u64>,
    pub event: Event,
    /// The record's EVE text as received, when it parsed as `event`. Stored as it is when
    /// the manager changes nothing in the event (the payload names the authenticated
    /// source as its host), instead of writing the same text again: that second
    /// serialisation was a tenth of the analysis stage in the 100-agent flood.
    pub received: Option<String>,
}

impl Sequenced {
    /// An event built in-process, with no received text.
    pub fn new(seq: Option<u64>, event: Event) -> Self {
        Sequenced {
            seq,
            event,
            received: None,
        }
    }

    /// A received record, parsed with [`Event::from_eve_slice`]. A record that is not an
    /// EVE JSON object is kept as a `log` event whose line is its text (received at `now`).
    pub fn parse(seq: Option<u64>, record: Vec<u8>, now: Timestamp) -> Self {
        match Event::from_eve_slice(&record) {
            // A record that parsed is JSON, so valid UTF-8; the check is kept rather than
            // trusted because it is cheap next to the parse. Only the exact object is kept:
            // white space around it would be stored too.
            Ok(event) => {
                let received = match (record.first(), record.last()) {
                    (Some(b'{'), Some(b'}')) => String::from_utf8(record).ok(),
                    _ => None,
                };
                Sequenced {
                    seq,
                    event,
                    received,
                }
            }
            Err(_) => {
                let mut event = Event::new(now, "log");
                event.body = serde_json::json!({ "line": String::from_utf8_lossy(&record) });
                Sequenced::new(seq, event)
            }
        }
    }
}

/// Limits of the ingest path.
#[derive(Debug, Clone, Copy)]
pub struct IngestConfig {
    /// Host-engine sessions kept at once (one per source). Past this, the least recently
    /// used source loses its correlation state.
    pub max_sessions: usize,
    /// Per-session limits of the host engine.
    pub session_limits: Limits,
    /// Rule matches below this level are not stored as alerts (OSSEC's `log_alert_level`,
    /// Wazuh ships 3). The event itself is stored either way. 0 keeps the engine's verdict.
    pub min_alert_level: u8,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_sessions: 1024,
            session_limits: Limits::default(),
            min_alert_level: 0,
        }
    }
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Events in the batch.
    pub received: u64,
    /// Events newly stored.
    pub stored: u64,
    /// Events already stored (resends), neither stored nor analysed again.
    pub duplicates: u64,
    /// Events run through the host engine.
    pub analysed: u64,
    /// Alerts raised and stored.
    pub alerts: u64,
    /// Alerts the engine raised below [`IngestConfig::min_alert_level`], not stored.
    pub below_alert_level: u64,
    /// Events whose payload named a host other than the authenticated source (the claim is
    /// kept as `picket.claimed_host`; `host` is set to the source).
    pub host_mismatches: u64,
}

/// Totals since start, including the session limit being hit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestCounters {
    pub batches: u64,
    pub received: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub analysed: u64,
    pub alerts: u64,
    pub below_alert_level: u64,
    pub host_mismatches: u64,
    /// Sessions dropped to make room for a new source ([`IngestConfig::max_sessions`]).
    pub sessions_evicted: u64,
}

struct Slot<'r> {
    session: Session<'r>,
    last_used: u64,
}

/// The manager's ingest path; see the crate notes.
pub struct Ingest<'r> {
    ruleset: &'r Ruleset,
    config: IngestConfig,
    sessions: HashMap<String, Slot<'r>>,
    clock: u64,
    counters: IngestCounters,
}

impl std::fmt::Debug for Ingest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("config", &self.config)
            .field("sessions", &self.sessions.len())
            .field("counters", &self.counters)
            .finish()
    }
}

impl<'r> Ingest<'r> {
    pub fn new(ruleset: &'r Ruleset, config: IngestConfig) -> Self {
        Ingest {
            ruleset,
            config,
            sessions: HashMap::new(),
            clock: 0,
            counters: IngestCounters::default(),
        }
    }

    pub fn counters(&self) -> IngestCounters {
        self.counters
    }

    /// Sources that currently have a session.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Store and analyse one batch from `source` (as the transport authenticated it; spool
    /// `epoch`, 0 when unknown), received at `received` on the manager's clock. Everything
    /// commits together: on error nothing is stored, and the batch must not be acknowledged.
    pub fn ingest(
        &mut self,
        store: &mut Store,
        source: &str,
        epoch: u64,
        batch: impl IntoIterator<Item = Sequenced>,
        received: Timestamp,
    ) -> Result<IngestReport, Error> {
        let mut report = IngestReport::default();
        let min_alert_level = self.config.min_alert_level;
        let session = self.session(source);
        let mut tx = store.batch()?;
        for Sequenced {
            seq,
            mut event,
            received,
        } in batch
        {
            report.received += 1;
            let changed = attribute(&mut event, source, &mut report);
            let key = Key {
                source,
                epoch,
                seq,
                part: 0,
            };
            let new = match received {
                Some(eve) if !changed => tx.insert_eve(
                    key,
                    event.timestamp,
                    &event.event_type,
                    AlertColumns::of(&event),
                    &eve,
                )?,
                _ => tx.insert(key, &event)?,
            };
            if !new {
                report.duplicates += 1;
                continue;
            }
            report.stored += 1;
            if let Some(alert) =
                analyse_event(session, source, &event, min_alert_level, &mut report)
            {
                tx.insert_eve(
                    key.part(1),
                    alert.timestamp,
                    &alert.event_type,
                    alert.alert,
                    &alert.eve,
                )?;
                report.alerts += 1;
            }
        }
        tx.saw_source(source, received, report.received)?;
        tx.commit()?;
        let c = &mut self.counters;
        c.batches += 1;
        c.received += report.received;
        c.stored += report.stored;
        c.duplicates += report.duplicates;
        c.analysed += report.analysed;
        c.alerts += report.alerts;
        c.below_alert_level += report.below_alert_level;
        c.host_mismatches += report.host_mismatches;
        Ok(report)
    }

    /// The analysis half of [`Ingest::ingest`], for a pipeline that stores on another
    /// thread ([`store_analysed`]): analyse every event and return the rows to store, EVE
    /// text included. It cannot see which events are resends, so it analyses them all: use
    /// it behind the transport's deduplication, which drops resends before the sink. A
    /// resend that slips through is still stored once (its rows and its alert have the
    /// same keys as before), but it counts again in correlation.
    pub fn analyse(
        &mut self,
        source: &str,
        epoch: u64,
        batch: impl IntoIterator<Item = Sequenced>,
    ) -> Analysed {
        let mut analysed = Analysed {
            source: source.to_string(),
            epoch,
            rows: Vec::new(),
            report: IngestReport::default(),
        };
        let min_alert_level = self.config.min_alert_level;
        let session = self.session(source);
        let report = &mut analysed.report;
        for Sequenced {
            seq,
            mut event,
            received,
        } in batch
        {
            report.received += 1;
            let changed = attribute(&mut event, source, report);
            let alert = analyse_event(session, source, &event, min_alert_level, report);
            analysed.rows.push(match received {
                Some(eve) if !changed => AnalysedRow::received(seq, &event, eve),
                _ => AnalysedRow::new(seq, 0, &event),
            });
            if let Some(mut alert) = alert {
                report.alerts += 1;
                alert.seq = seq;
                analysed.rows.push(alert);
            }
        }
        let c = &mut self.counters;
        c.batches += 1;
        c.received += analysed.report.received;
        c.analysed += analysed.report.analysed;
        c.alerts += analysed.report.alerts;
        c.below_alert_level += analysed.report.below_alert_level;
        c.host_mismatches += analysed.report.host_mismatches;
        analysed
    }

    /// The session of `source`, made (and room made for it) if needed.
    fn session(&mut self, source: &str) -> &mut Session<'r> {
        self.clock += 1;
        let now = self.clock;
        if !self.sessions.contains_key(source) {
            if self.sessions.len() >= self.config.max_sessions.max(1) {
                let oldest = self
                    .sessions
                    .iter()
                    .min_by_key(|(_, slot)| slot.last_used)
                    .map(|(name, _)| name.clone());
                if let Some(oldest) = oldest {
                    self.sessions.remove(&oldest);
                    self.counters.sessions_evicted += 1;
                }
            }
            let session = self.ruleset.session_with_limits(self.config.session_limits);
            self.sessions.insert(
                source.to_string(),
                Slot {
                    session,
                    last_used: now,
                },
            );
        }
        let slot = self
            .sessions
            .get_mut(source)
            .expect("inserted above when missing");
        slot.last_used = now;
        &mut slot.session
    }
}

/// Store `event` under the authenticated `source`; a different name the payload claimed is
/// kept as `picket.claimed_host` and counted, never believed. Returns whether the event
/// changed.
fn attribute(event: &mut Event, source: &str, report: &mut IngestReport) -> bool {
    let changed = event.host.as_deref() != Some(source);
    if changed {
        if let Some(claimed) = event.host.take() {
            report.host_mismatches += 1;
            event
                .picket
                .insert("claimed_host".into(), Value::from(claimed));
        }
        event.host = Some(source.to_string());
    }
    changed
}

/// The alert one event raises, if any: the manager's own for a honeytoken open, else the
/// host rules' verdict on its log line, kept only at or above `min_alert_level`.
fn analyse_event(
    session: &mut Session<'_>,
    source: &str,
    event: &Event,
    min_alert_level: u8,
    report: &mut IngestReport,
) -> Option<AnalysedRow> {
    if event.event_type == "honeytoken" {
        report.analysed += 1;
        return honeytoken_alert(event, min_alert_level)
            .map(|alert| AnalysedRow::new(None, 1, &alert));
    }
    let (line, location) = analysed_line(event)?;
    report.analysed += 1;
    let outcome = session.process(Input {
        line: &line,
        location: &location,
        agent: source,
        default_hostname: source,
        time: event.timestamp,
    });
    if outcome.alert
        && outcome
            .rule
            .as_ref()
            .is_some_and(|r| r.level < min_alert_level)
    {
        report.below_alert_level += 1;
        return None;
    }
    hids_alert_row(&outcome, event)
}

/// The line and location the host engine sees for `event`, if it analyses this kind.
///
/// A `log` event carries its line in `log.line` (or `log.message`), and where it was read
/// in `log.path` or `log.location`. A `fim` change (`fim.action`, `fim.path`) becomes the
/// `picket-fim: <change>: <path>` syslog line that the default ruleset's FIM decoder reads.
pub fn analysed_line(event: &Event) -> Option<(Cow<'_, str>, Cow<'_, str>)> {
    let body = &event.body;
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    match event.event_type.as_str() {
        "log" => {
            let line = match body {
                Value::String(line) => line.as_str(),
                _ => text("line").or_else(|| text("message"))?,
            };
            let location = text("location").or_else(|| text("path")).unwrap_or("log");
            Some((Cow::Borrowed(line), Cow::Borrowed(location)))
        }
        "fim" => {
            let path = text("path")?;
            let change = match text("action")? {
                "removed" | "deleted" => "deleted",
                "added" => "added",
                "modified" => "modified",
                _ => return None,
            };
            let c = event.timestamp.civil();
            const MONTHS: [&str; 12] = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ];
            let month = MONTHS[(c.month.clamp(1, 12) - 1) as usize];
            let host = event.host.as_deref().unwrap_or("localhost");
            let line = format!(
                "{month} {:>2} {:02}:{:02}:{:02} {host} picket-fim: {change}: {path}",
                c.day, c.hour, c.minute, c.second
            );
            Some((Cow::Owned(line), Cow::Borrowed("fim")))
        }
        _ => None,
    }
}

/// Rule id of the manager's built-in honeytoken rule (outside the OSSEC ranges picket ships,
/// next to the manager's own 9900xx alerts).
pub const RULE_HONEYTOKEN: u64 = 990_010;
/// Its level: a honeytoken has no legitimate reader, so every open is worth waking up for.
const HONEYTOKEN_LEVEL: u8 = 12;

/// The alert for a `honeytoken` event: every one raises one, naming the file and, when the
/// agent could see it (fanotify), the process, executable and uid that opened it. The
/// agent's own fields are copied under `picket.honeytoken` for programs.
pub fn honeytoken_alert(event: &Event, min_alert_level: u8) -> Option<Event> {
    if HONEYTOKEN_LEVEL < min_alert_level {
        return None;
    }
    let body = &event.body;
    let path = body.get("path").and_then(Value::as_str).unwrap_or("?");
    let who = match (
        body.get("exe").and_then(Value::as_str),
        body.get("comm").and_then(Value::as_str),
        body.get("pid").and_then(Value::as_i64),
    ) {
        (exe, comm, Some(pid)) => {
            let program = exe.or(comm).unwrap_or("?");
            let uid = body
                .get("uid")
                .and_then(Value::as_u64)
                .map_or_else(String::new, |u| format!(", uid {u}"));
            format!(" by {program} (pid {pid}{uid})")
        }
        _ => " (process unknown: the agent watches with inotify)".to_string(),
    };
    let alert = Alert {
        engine: "manager".into(),
        signature_id: RULE_HONEYTOKEN,
        rev: 1,
        signature: format!("picket: honeytoken {path} opened{who}"),
        category: "honeytoken".into(),
        severity: Alert::severity_from_level(HONEYTOKEN_LEVEL),
        level: Some(HONEYTOKEN_LEVEL),
        groups: vec!["honeytoken".into(), "picket".into()],
        mitre: vec!["T1552.001".into()],
    };
    let mut alert = alert.into_event(event);
    alert.picket.insert("honeytoken".into(), body.clone());
    Some(alert)
}

/// The EVE `alert` event for an outcome that raises one, built as `picket demo` builds it,
/// plus the analysed line and decoder under `picket`. [`hids_alert_row`] writes the same
/// text without building it; this stays as the reference it is tested against.
#[cfg(test)]
fn alert_event(outcome: &Outcome, cause: &Event) -> Option<Event> {
    let rule = outcome.rule.as_ref().filter(|_| outcome.alert)?;
    let alert = Alert {
        engine: "hids".into(),
        signature_id: u64::from(rule.id),
        rev: 1,
        signature: rule.description.clone(),
        category: rule.groups.join(","),
        severity: Alert::severity_from_level(rule.level),
        level: Some(rule.level),
        groups: rule.groups.to_vec(),
        mitre: rule.mitre.to_vec(),
    };
    let mut event = alert.into_event(cause);
    if event.endpoints.src_ip.is_none() {
        event.endpoints.src_ip = outcome.fields.get("srcip").map(str::to_string);
    }
    event
        .picket
        .insert("full_log".into(), Value::from(outcome.full_log.clone()));
    event
        .picket
        .insert("location".into(), Value::from(outcome.location.clone()));
    if let Some(decoder) = &outcome.decoder {
        event
            .picket
            .insert("decoder".into(), Value::from(decoder.clone()));
    }
    for name in ["srcuser", "dstuser"] {
        if let Some(value) = outcome.fields.get(name) {
            event.picket.insert(name.into(), Value::from(value));
        }
    }
    Some(event)
}

/// One value under the alert's `picket` object, as [`hids_alert_row`] writes it.
enum PicketValue<'a> {
    Text(&'a str),
    Number(u8),
    List(&'a [String]),
    Json(&'a Value),
}

/// The row of the alert an outcome raises (seq left for the caller), the same text as
/// [`alert_event`]`(..).write_eve(Extended)`, written straight from the outcome: building
/// the `Event` first (its body and `picket` maps, their keys and copies of every string)
/// and then writing it was a third of the analysis stage when most lines raise alerts.
fn hids_alert_row(outcome: &Outcome, cause: &Event) -> Option<AnalysedRow> {
    let rule = outcome.rule.as_ref().filter(|_| outcome.alert)?;
    let severity = Alert::severity_from_level(rule.level);
    // The envelope is the cause's, as `Alert::into_event` copies it, written by the
    // envelope writer itself so that the two cannot drift; body and `picket` follow.
    let mut envelope = Event::new(cause.timestamp, "alert");
    envelope.host.clone_from(&cause.host);
    envelope.flow_id = cause.flow_id;
    envelope.community_id.clone_from(&cause.community_id);
    envelope.endpoints = cause.endpoints.clone();
    if envelope.endpoints.src_ip.is_none() {
        envelope.endpoints.src_ip = outcome.fields.get("srcip").map(str::to_string);
    }
    let mut out = Vec::with_capacity(512 + outcome.full_log.len());
    envelope.append_eve(picket_event::EveMode::Extended, &mut out);
    // The envelope ends its object; the alert's fields go before that brace.
    if out.pop() != Some(b'}') {
        return None;
    }
    // picket_event's JSON writer gives serde_json's bytes exactly, without its `io::Write`
    // path per string (that path was a third of this function in the 100-agent flood).
    // The body's keys in the order a `serde_json::Map` keeps them (sorted).
    out.extend_from_slice(b",\"alert\":{\"action\":\"allowed\",\"category\":");
    json::write_str(&mut out, &rule.groups.join(","));
    out.extend_from_slice(b",\"gid\":1,\"rev\":1,\"severity\":");
    json::write_u64(&mut out, u64::from(severity));
    out.extend_from_slice(b",\"signature\":");
    json::write_str(&mut out, &rule.description);
    out.extend_from_slice(b",\"signature_id\":");
    json::write_u64(&mut out, u64::from(rule.id));
    out.push(b'}');
    // `picket`: the cause's own fields, then ours over them, sorted by key as a map is.
    let mut fields: Vec<(&str, PicketValue<'_>)> = Vec::with_capacity(cause.picket.len() + 9);
    fields.push(("engine", PicketValue::Text("hids")));
    fields.push(("level", PicketValue::Number(rule.level)));
    if !rule.groups.is_empty() {
        fields.push(("groups", PicketValue::List(&rule.groups)));
    }
    if !rule.mitre.is_empty() {
        fields.push(("mitre", PicketValue::List(&rule.mitre)));
    }
    fields.push(("full_log", PicketValue::Text(&outcome.full_log)));
    fields.push(("location", PicketValue::Text(&outcome.location)));
    if let Some(decoder) = &outcome.decoder {
        fields.push(("decoder", PicketValue::Text(decoder)));
    }
    for name in ["srcuser", "dstuser"] {
        if let Some(value) = outcome.fields.get(name) {
            fields.push((name, PicketValue::Text(value)));
        }
    }
    for (key, value) in &cause.picket {
        if !fields.iter().any(|(ours, _)| *ours == key.as_str()) {
            fields.push((key.as_str(), PicketValue::Json(value)));
        }
    }
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.extend_from_slice(b",\"picket\":{");
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::write_str(&mut out, key);
        out.push(b':');
        match value {
            PicketValue::Text(value) => json::write_str(&mut out, value),
            PicketValue::Number(n) => json::write_u64(&mut out, u64::from(*n)),
            PicketValue::List(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json::write_str(&mut out, item);
                }
                out.push(b']');
            }
            PicketValue::Json(value) => json::write_value(&mut out, value),
        }
    }
    out.extend_from_slice(b"}}");
    Some(AnalysedRow {
        seq: None,
        part: 1,
        timestamp: cause.timestamp,
        event_type: "alert".to_string(),
        alert: Some(AlertColumns {
            rule: Some(u64::from(rule.id)),
            severity: Some(severity),
            level: Some(rule.level),
        }),
        // Only `str`s (escaped by serde_json) and ASCII went in, so this is valid UTF-8.
        eve: String::from_utf8(out).ok()?,
    })
}

/// One row ready to store: its key parts and its EVE text.
#[derive(Debug, Clone)]
pub struct AnalysedRow {
    pub seq: Option<u64>,
    pub part: u32,
    pub timestamp: Timestamp,
    pub event_type: String,
    /// The alert's filter columns, for an alert row.
    pub alert: Option<AlertColumns>,
    pub eve: String,
}

impl AnalysedRow {
    /// The row of a received event stored as the text it came in.
    fn received(seq: Option<u64>, event: &Event, eve: String) -> Self {
        AnalysedRow {
            seq,
            part: 0,
            timestamp: event.timestamp,
            event_type: event.event_type.clone(),
            alert: AlertColumns::of(event),
            eve,
        }
    }

    fn new(seq: Option<u64>, part: u32, event: &Event) -> Self {
        // Written straight to text: `to_eve_line` would build a `Value` of the whole event
        // first, which cost more than the rules (measured in the 100-agent flood).
        let mut eve = Vec::with_capacity(256);
        event.append_eve(picket_event::EveMode::Extended, &mut eve);
        let eve = String::from_utf8(eve)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        AnalysedRow {
            seq,
            part,
            timestamp: event.timestamp,
            event_type: event.event_type.clone(),
            alert: AlertColumns::of(event),
            eve,
        }
    }
}

/// A batch analysed by [`Ingest::analyse`], waiting to be stored by [`store_analysed`].
#[derive(Debug, Clone)]
pub struct Analysed {
    pub source: String,
    pub epoch: u64,
    pub rows: Vec<AnalysedRow>,
    /// Received, analysed, alerts and host mismatches; `stored` and `duplicates` are filled
    /// in by [`store_analysed`].
    pub report: IngestReport,
}

impl Analysed {
    /// The store rows of this batch, appended to `out` (a buffer the caller reuses), for
    /// [`picket_store::Batch::insert_rows`].
    pub fn store_rows<'a>(&'a self, out: &mut Vec<picket_store::Row<'a>>) {
        out.extend(self.rows.iter().map(|row| picket_store::Row {
            key: picket_store::Key {
                source: &self.source,
                epoch: self.epoch,
                seq: row.seq,
                part: row.part,
            },
            timestamp: row.timestamp,
            event_type: &row.event_type,
            alert: row.alert,
            eve: &row.eve,
        }));
    }
}

/// The storing half of the pipeline: every row of `analysed` in one transaction, and the
/// source marked as heard from at `received`.
pub fn store_analysed(
    store: &mut Store,
    analysed: &Analysed,
    received: Timestamp,
) -> Result<IngestReport, Error> {
    let mut report = analysed.report;
    let mut tx = store.batch()?;
    for row in &analysed.rows {
        let key = Key {
            source: &analysed.source,
            epoch: analysed.epoch,
            seq: row.seq,
            part: row.part,
        };
        let new = tx.insert_eve(key, row.timestamp, &row.event_type, row.alert, &row.eve)?;
        if row.part == 0 {
            if new {
                report.stored += 1;
            } else {
                report.duplicates += 1;
            }
        }
    }
    tx.saw_source(&analysed.source, received, report.received)?;
    tx.commit()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The alert text written straight from the outcome is byte for byte what building the
    /// alert `Event` and writing it gives, for every alert of the demo story and causes
    /// with and without their own envelope and `picket` fields.
    #[test]
    fn alert_written_from_the_outcome_equals_the_alert_event_written() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
        let (ruleset, _) = picket_hids::load_ruleset(std::slice::from_ref(&root)).unwrap();
        let sample = std::fs::read_to_string(root.join("samples/demo.log")).unwrap();
        let mut session = ruleset.session();
        let mut compared = 0;
        for (i, line) in sample.lines().filter(|l| !l.trim().is_empty()).enumerate() {
            let mut cause = Event::new(Timestamp::from_secs(1_795_766_531 + i as i64), "log");
            cause.body = serde_json::json!({ "line": line, "path": "/var/log/auth.log" });
            match i % 3 {
                0 => cause.host = Some("work".into()),
                1 => {
                    cause.host = Some("sys-\"net\"\n".into());
                    cause.flow_id = Some(7);
                    cause.endpoints.src_ip = Some("10.0.0.9".into());
                    cause.endpoints.dest_port = Some(22);
                    cause
                        .picket
                        .insert("claimed_host".into(), Value::from("vault"));
                    // Keys the alert sets itself: the alert's value wins.
                    cause.picket.insert("level".into(), Value::from(99));
                    cause.picket.insert("decoder".into(), Value::from("forged"));
                }
                _ => {
                    cause
                        .picket
                        .insert("zz".into(), serde_json::json!({"a": [1, "é"]}));
                    cause.picket.insert("groups".into(), Value::from("theirs"));
                }
            }
            let outcome = session.process(Input {
                line,
                location: "/var/log/auth.log",
                agent: "work",
                default_hostname: "work",
                time: cause.timestamp,
            });
            let Some(expected) = alert_event(&outcome, &cause) else {
                assert!(hids_alert_row(&outcome, &cause).is_none(), "{line}");
                continue;
            };
            let row = hids_alert_row(&outcome, &cause).unwrap();
            let mut text = Vec::new();
            expected
                .write_eve(picket_event::EveMode::Extended, &mut text)
                .unwrap();
            assert_eq!(row.eve, String::from_utf8(text).unwrap(), "{line}");
            assert_eq!(row.alert, AlertColumns::of(&expected));
            assert_eq!(row.timestamp, expected.timestamp);
            compared += 1;
        }
        assert!(compared > 20, "only {compared} alerts compared");
    }
}

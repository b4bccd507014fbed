//! Decoders: turning a pre-decoded log line into named fields, as OSSEC and Wazuh define
//! them in `<decoder>` XML.
//!
//! The semantics reproduced here, because verdicts depend on them:
//! - Decoders form two lists: those with `<program_name>` are tried only for lines that
//!   have a program name, the others only for lines without one.
//! - A parent matches on program name and `prematch`; then its children are tried in file
//!   order, and the first child whose `prematch` matches (or the first without one) wins.
//! - Several decoders with the same name under one parent are "siblings": each adds its
//!   `regex`, and the chain continues even when one of them fails.
//! - Offsets: `after_parent` is the text after the parent's prematch, `after_prematch` the
//!   text after the child's own prematch, `after_regex` the text after the previous regex.
//! - A child without `use_own_name` reports its parent's name.

use crate::error::LoadError;
use crate::fields::Fields;
use crate::xml::Element;
use crate::LoadReport;
use picket_matchers::{Dialect, Pattern};
use std::path::Path;
use std::sync::Arc;

/// The log categories of OSSEC (`<type>` in decoders, `<category>` in rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Syslog,
    Firewall,
    Ids,
    WebLog,
    Squid,
    Windows,
    HostInfo,
    Ossec,
}

impl Category {
    pub fn parse(text: &str) -> Option<Category> {
        Some(match text.trim() {
            "syslog" => Category::Syslog,
            "firewall" => Category::Firewall,
            "ids" => Category::Ids,
            "web-log" => Category::WebLog,
            "squid" => Category::Squid,
            "windows" => Category::Windows,
            "host-information" => Category::HostInfo,
            "ossec" => Category::Ossec,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offset {
    Start,
    AfterParent,
    AfterPrematch,
    AfterRegex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonNull {
    Discard,
    AsString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonArray {
    CsvString,
    Array,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plugin {
    Json,
}

/// One `<decoder>` as loaded.
#[derive(Debug, Clone)]
pub struct Decoder {
    /// The name reported for events it decodes (the parent's, unless `use_own_name`).
    pub name: String,
    /// The name written in its own `name=` attribute.
    pub own_name: String,
    pub parent: Option<String>,
    pub category: Category,
    program_name: Option<Pattern>,
    prematch: Option<Pattern>,
    /// Prefilter literal set of `prematch` (set when the ruleset is built).
    pub(crate) prematch_literals: Option<u32>,
    /// Prefilter literal set of `regex`.
    pub(crate) regex_literals: Option<u32>,
    prematch_after_parent: bool,
    regex: Option<Pattern>,
    regex_offset: Offset,
    /// Field names, trimmed and canonical, shared with the events that carry them.
    order: Vec<Arc<str>>,
    /// Fields whose combination makes an event "first time seen" (`<fts>`).
    pub fts: Vec<String>,
    plugin: Option<Plugin>,
    plugin_offset: Offset,
    json_null: JsonNull,
    json_array: JsonArray,
    /// Another decoder with the same name follows under the same parent.
    get_next: bool,
    /// A child that reports its own name rather than its parent's.
    use_own_name: bool,
    pub file: String,
    pub line: usize,
}

#[derive(Debug, Clone)]
struct Node {
    decoder: usize,
    children: Vec<usize>,
}

/// All decoders of a ruleset, ready to decode.
#[derive(Debug, Clone, Default)]
pub struct DecoderSet {
    decoders: Vec<Decoder>,
    with_program: Vec<Node>,
    without_program: Vec<Node>,
}

/// The outcome of decoding one line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Index of the decoder that matched last (its `name` is the reported decoder).
    pub decoder: Option<usize>,
    /// Index of the top-level decoder that matched.
    pub parent: Option<usize>,
    pub fields: Fields,
    /// Fields refused because the event had too many.
    pub dropped_fields: usize,
}

fn pattern_dialect(element: &Element, default: Dialect) -> Result<Dialect, String> {
    match element.attr("type") {
        None => Ok(default),
        Some(t) => match t.trim().to_ascii_lowercase().as_str() {
            "osmatch" => Ok(Dialect::OsMatch),
            "osregex" => Ok(Dialect::OsRegex),
            "pcre2" => Ok(Dialect::Pcre2),
            other => Err(format!("unknown pattern type {other:?}")),
        },
    }
}

fn parse_offset(text: Option<&str>) -> Result<Offset, String> {
    match text.map(str::trim) {
        None | Some("") => Ok(Offset::Start),
        Some("after_parent") => Ok(Offset::AfterParent),
        Some("after_prematch") => Ok(Offset::AfterPrematch),
        Some("after_regex") => Ok(Offset::AfterRegex),
        Some(other) => Err(format!("unknown offset {other:?}")),
    }
}

impl DecoderSet {
    pub fn decoders(&self) -> &[Decoder] {
        &self.decoders
    }

    /// The prematch patterns, for building the prefilter.
    pub(crate) fn prematch_slots(&mut self) -> impl Iterator<Item = (&Pattern, &mut Option<u32>)> {
        // Prematch and regex patterns alike: either one failing means no match.
        self.decoders.iter_mut().flat_map(|d| {
            let prematch = d.prematch.as_ref().map(|p| (p, &mut d.prematch_literals));
            let regex = d.regex.as_ref().map(|p| (p, &mut d.regex_literals));
            prematch.into_iter().chain(regex)
        })
    }

    pub fn len(&self) -> usize {
        self.decoders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.decoders.is_empty()
    }

    /// Whether some decoder carries this reported or own name (for `decoded_as`).
    pub fn has_name(&self, name: &str) -> bool {
        self.decoders
            .iter()
            .any(|d| d.name == name || d.own_name == name)
    }

    /// Add the `<decoder>` elements of one file, in order.
    pub fn load(
        &mut self,
        path: &Path,
        roots: &[Element],
        report: &mut LoadReport,
    ) -> Result<(), LoadError> {
        for element in roots {
            if element.name.eq_ignore_ascii_case("var") {
                continue;
            }
            if !element.name.eq_ignore_ascii_case("decoder") {
                report.unsupported(format!("decoder file element <{}>", element.name));
                continue;
            }
            // An invalid decoder is skipped and reported; its children then report too.
            let added =
                Self::build(path, element, report).and_then(|d| self.add(path, element.line, d));
            if let Err(error) = added {
                report.skipped.push(error.to_string());
            }
        }
        Ok(())
    }

    fn build(
        path: &Path,
        element: &Element,
        report: &mut LoadReport,
    ) -> Result<Decoder, LoadError> {
        let line = element.line;
        let Some(name) = element.attr("name").map(str::to_string) else {
            return Err(LoadError::Invalid {
                path: path.into(),
                line,
                owner: "decoder".into(),
                message: "has no name attribute".into(),
            });
        };
        let owner = format!("decoder {name:?}");
        let invalid = |message: String| LoadError::Invalid {
            path: path.into(),
            line,
            owner: owner.clone(),
            message,
        };
        let mut parent: Option<String> = None;
        let mut program_name: Option<(String, Dialect)> = None;
        let mut prematch: Option<(String, Dialect, usize)> = None;
        let mut prematch_after_parent = false;
        let mut regex: Option<(String, Dialect, usize)> = None;
        let mut regex_offset = Offset::Start;
        let mut order = Vec::new();
        let mut fts = Vec::new();
        let mut category = Category::Syslog;
        let mut use_own_name = false;
        let mut plugin = None;
        let mut plugin_offset = Offset::Start;
        let mut json_null = JsonNull::AsString;
        // Wazuh's default keeps arrays as JSON text; `csv_string` must be asked for.
        let mut json_array = JsonArray::Array;

        // Repeated pattern elements are concatenated, as OSSEC does.
        fn append(
            slot: &mut Option<(String, Dialect, usize)>,
            text: &str,
            dialect: Dialect,
            line: usize,
        ) {
            match slot {
                Some((existing, _, _)) => existing.push_str(text),
                None => *slot = Some((text.to_string(), dialect, line)),
            }
        }

        for child in &element.children {
            let tag = child.name.to_ascii_lowercase();
            let text = child.text.as_str();
            match tag.as_str() {
                "parent" => parent = Some(text.trim().to_string()),
                "program_name" | "program_name_pcre2" => {
                    let dialect = if tag.ends_with("pcre2") {
                        Dialect::OssecPcre2
                    } else {
                        pattern_dialect(child, Dialect::OsMatch).map_err(&invalid)?
                    };
                    match &mut program_name {
                        Some((existing, _)) => existing.push_str(text),
                        None => program_name = Some((text.to_string(), dialect)),
                    }
                }
                "prematch" | "prematch_pcre2" => {
                    let dialect = if tag.ends_with("pcre2") {
                        Dialect::OssecPcre2
                    } else {
                        pattern_dialect(child, Dialect::OsRegex).map_err(&invalid)?
                    };
                    let offset = parse_offset(child.attr("offset")).map_err(&invalid)?;
                    match offset {
                        Offset::Start => {}
                        Offset::AfterParent => prematch_after_parent = true,
                        _ => return Err(invalid("prematch offset must be after_parent".into())),
                    }
                    append(&mut prematch, text, dialect, child.line);
                }
                "regex" | "pcre2" => {
                    let dialect = if tag == "pcre2" {
                        Dialect::OssecPcre2
                    } else {
                        pattern_dialect(child, Dialect::OsRegex).map_err(&invalid)?
                    };
                    let offset = parse_offset(child.attr("offset")).map_err(&invalid)?;
                    if offset != Offset::Start {
                        regex_offset = offset;
                    }
                    append(&mut regex, text, dialect, child.line);
                }
                "order" => {
                    order = text
                        .split(',')
                        .map(str::trim)
                        .filter(|f| !f.is_empty())
                        .map(|f| Arc::from(crate::fields::canonical(f)))
                        .collect();
                }
                "fts" => {
                    fts = text
                        .split(',')
                        .map(|f| f.trim().to_string())
                        .filter(|f| !f.is_empty())
                        .collect();
                }
                "ftscomment" | "accumulate" | "var" => {
                    if tag == "accumulate" {
                        report.unsupported("decoder <accumulate>".to_string());
                    }
                }
                "type" => {
                    category = Category::parse(text)
                        .ok_or_else(|| invalid(format!("unknown type {text:?}")))?;
                }
                "use_own_name" => use_own_name = text.trim().eq_ignore_ascii_case("true"),
                "plugin_decoder" => {
                    plugin_offset = parse_offset(child.attr("offset")).map_err(&invalid)?;
                    match text.trim() {
                        "JSON_Decoder" => plugin = Some(Plugin::Json),
                        other => report.unsupported(format!("plugin decoder {other}")),
                    }
                }
                "json_null_field" => {
                    json_null = match text.trim() {
                        "discard" => JsonNull::Discard,
                        _ => JsonNull::AsString,
                    }
                }
                "json_array_structure" => {
                    json_array = match text.trim() {
                        "csv_string" => JsonArray::CsvString,
                        _ => JsonArray::Array,
                    }
                }
                other => report.unsupported(format!("decoder element <{other}>")),
            }
        }

        if prematch.is_none() && parent.is_none() && program_name.is_none() && plugin.is_none() {
            return Err(invalid(
                "needs a prematch, a parent or a program_name".into(),
            ));
        }
        if regex_offset == Offset::AfterParent && parent.is_none() {
            return Err(invalid("offset after_parent needs a parent".into()));
        }
        if regex_offset == Offset::AfterPrematch {
            if parent.is_none() {
                // OSSEC treats after_prematch on a top-level decoder as after_parent.
                regex_offset = Offset::AfterParent;
            } else if prematch.is_none() {
                return Err(invalid("offset after_prematch needs a prematch".into()));
            }
        }
        if regex_offset == Offset::AfterRegex && (parent.is_none() || regex.is_none()) {
            return Err(invalid(
                "offset after_regex needs a parent and a regex".into(),
            ));
        }
        if prematch_after_parent && parent.is_none() {
            return Err(invalid(
                "prematch offset after_parent needs a parent".into(),
            ));
        }

        let compile =
            |spec: &(String, Dialect, usize), element: &str| -> Result<Pattern, LoadError> {
                Pattern::compile(spec.1, &spec.0).map_err(|e| LoadError::Pattern {
                    path: path.into(),
                    line: spec.2,
                    owner: owner.clone(),
                    element: element.into(),
                    message: e.to_string(),
                })
            };
        let program_name = match &program_name {
            Some((text, dialect)) => {
                Some(compile(&(text.clone(), *dialect, line), "program_name")?)
            }
            None => None,
        };
        let prematch = prematch
            .as_ref()
            .map(|p| compile(p, "prematch"))
            .transpose()?;
        let regex = regex.as_ref().map(|p| compile(p, "regex")).transpose()?;

        Ok(Decoder {
            name: name.clone(),
            own_name: name,
            parent,
            category,
            program_name,
            prematch,
            prematch_literals: None,
            regex_literals: None,
            prematch_after_parent,
            regex,
            regex_offset,
            order,
            fts,
            plugin,
            plugin_offset,
            json_null,
            json_array,
            get_next: false,
            use_own_name,
            file: path.display().to_string(),
            line,
        })
    }

    fn add(&mut self, path: &Path, line: usize, mut decoder: Decoder) -> Result<(), LoadError> {
        let index = self.decoders.len();
        match decoder.parent.clone() {
            None => {
                let list = if decoder.program_name.is_some() {
                    &mut self.with_program
                } else {
                    &mut self.without_program
                };
                list.push(Node {
                    decoder: index,
                    children: Vec::new(),
                });
                self.decoders.push(decoder);
            }
            Some(parent_name) => {
                let mut parents = Vec::new();
                for (which, list) in [&self.with_program, &self.without_program]
                    .into_iter()
                    .enumerate()
                {
                    for (i, node) in list.iter().enumerate() {
                        if self.decoders[node.decoder].own_name == parent_name {
                            parents.push((which, i));
                        }
                    }
                }
                if parents.is_empty() {
                    return Err(LoadError::Invalid {
                        path: path.into(),
                        line,
                        owner: format!("decoder {:?}", decoder.own_name),
                        message: format!("parent decoder {parent_name:?} is not defined before it"),
                    });
                }
                if !decoder.use_own_name {
                    decoder.name = self.decoders[self.node(parents[0]).decoder].name.clone();
                }
                // A decoder that repeats the name of an earlier child of the same parent
                // continues that child's regex chain.
                for &(which, i) in &parents {
                    let siblings = self.node(((which), i)).children.clone();
                    if let Some(&last_same) = siblings
                        .iter()
                        .rev()
                        .find(|&&c| self.decoders[c].own_name == decoder.own_name)
                    {
                        if decoder.prematch.is_some() {
                            return Err(LoadError::Invalid {
                                path: path.into(),
                                line,
                                owner: format!("decoder {:?}", decoder.own_name),
                                message: "a repeated decoder name may not have its own prematch"
                                    .into(),
                            });
                        }
                        if self.decoders[last_same].regex.is_some() && decoder.regex.is_some() {
                            self.decoders[last_same].get_next = true;
                        }
                    }
                }
                self.decoders.push(decoder);
                for (which, i) in parents {
                    let list = if which == 0 {
                        &mut self.with_program
                    } else {
                        &mut self.without_program
                    };
                    list[i].children.push(index);
                }
            }
        }
        Ok(())
    }

    fn node(&self, (which, i): (usize, usize)) -> &Node {
        if which == 0 {
            &self.with_program[i]
        } else {
            &self.without_program[i]
        }
    }

    /// Decode one pre-decoded line. `log` is the message after the header.
    pub fn decode(&self, program_name: Option<&str>, log: &str) -> Decoded {
        let mut always = |_: u32| true;
        let mut out = Decoded::default();
        match program_name {
            Some(program) => self.decode_candidates(
                Some(program),
                log,
                &self.candidates_for_program(program),
                &mut always,
                &mut out,
            ),
            None => self.decode_candidates(None, log, &[], &mut always, &mut out),
        }
        out
    }

    /// The top-level decoders (positions in the program-name list) whose `program_name`
    /// matches `program`. Sessions cache this per program name: a log stream has few
    /// distinct programs, and this spares most decoder patterns on every line.
    pub fn candidates_for_program(&self, program: &str) -> Vec<u32> {
        self.with_program
            .iter()
            .enumerate()
            .filter(|(_, node)| {
                self.decoders[node.decoder]
                    .program_name
                    .as_ref()
                    .is_none_or(|p| p.is_match(program))
            })
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Decode with the program-name candidates already known (see
    /// [`DecoderSet::candidates_for_program`]); `candidates` is ignored without a program.
    /// `present` answers whether any literal of a prematch's prefilter literal set occurs
    /// in `log`; when none does, the prematch cannot match and is not run. The result is
    /// written to `out`, cleared first, whose buffers a caller can reuse line after line.
    pub fn decode_candidates(
        &self,
        program_name: Option<&str>,
        log: &str,
        candidates: &[u32],
        present: &mut dyn FnMut(u32) -> bool,
        out: &mut Decoded,
    ) {
        out.decoder = None;
        out.parent = None;
        out.fields.clear();
        out.dropped_fields = 0;
        // Either the program's candidates or every decoder without a program name; one
        // iterator type for both, so no boxing per line.
        let with_program = program_name.is_some();
        let count = if with_program {
            candidates.len()
        } else {
            self.without_program.len()
        };
        let nodes = (0..count).filter_map(|k| {
            if with_program {
                self.with_program.get(candidates[k] as usize)
            } else {
                self.without_program.get(k)
            }
        });
        for node in nodes {
            let parent = &self.decoders[node.decoder];
            // Offsets into `log` where the parent's and the child's prematch ended.
            let mut parent_end = 0usize;
            if let Some(prematch) = &parent.prematch {
                if parent.prematch_literals.is_some_and(|set| !present(set)) {
                    continue;
                }
                match prematch.match_end(log) {
                    Some(end) => parent_end = end,
                    None => continue,
                }
            }
            out.parent = Some(node.decoder);
            out.decoder = Some(node.decoder);

            // Find the child that applies, or use the parent itself.
            let mut chain_start: Option<usize> = None; // position in node.children
            let mut child_end = parent_end;
            if node.children.is_empty() {
                self.apply_chain(
                    &[node.decoder],
                    0,
                    log,
                    (parent_end, parent_end),
                    out,
                    present,
                );
                return;
            }
            let mut i = 0;
            while i < node.children.len() {
                let child = &self.decoders[node.children[i]];
                match &child.prematch {
                    Some(_) if child.prematch_literals.is_some_and(|set| !present(set)) => {}
                    Some(prematch) => {
                        let (base, text) = if child.prematch_after_parent {
                            (parent_end, &log[parent_end..])
                        } else {
                            (0, log)
                        };
                        if let Some(end) = prematch.match_end(text) {
                            child_end = base + end;
                            out.decoder = Some(node.children[i]);
                            chain_start = Some(i);
                            break;
                        }
                    }
                    None => {
                        chain_start = Some(i);
                        break;
                    }
                }
                // A chain of same-named regex-only siblings is skipped as a whole.
                if child.get_next {
                    while i < node.children.len() && self.decoders[node.children[i]].get_next {
                        i += 1;
                    }
                    if i >= node.children.len() {
                        return;
                    }
                }
                i += 1;
            }
            let Some(start) = chain_start else {
                return;
            };
            self.apply_chain(
                &node.children,
                start,
                log,
                (parent_end, child_end),
                out,
                present,
            );
            return;
        }
    }

    /// Run the regex (or plugin) of `chain[start]`, and of the same-named siblings after it.
    fn apply_chain(
        &self,
        chain: &[usize],
        start: usize,
        log: &str,
        (parent_end, child_end): (usize, usize),
        out: &mut Decoded,
        present: &mut dyn FnMut(u32) -> bool,
    ) {
        let mut previous_regex_end: Option<usize> = None;
        let mut i = start;
        while i < chain.len() {
            let decoder = &self.decoders[chain[i]];
            if let Some(Plugin::Json) = decoder.plugin {
                let from = match decoder.plugin_offset {
                    Offset::AfterParent => parent_end,
                    Offset::AfterPrematch => child_end,
                    _ => 0,
                };
                out.decoder = Some(chain[i]);
                decode_json(&log[from..], decoder, out);
                return;
            }
            let Some(regex) = &decoder.regex else {
                return;
            };
            let from = match decoder.regex_offset {
                Offset::Start => 0,
                Offset::AfterParent => parent_end,
                Offset::AfterPrematch => child_end,
                Offset::AfterRegex => previous_regex_end.unwrap_or(child_end),
            };
            // A regex whose required literals are all absent from the line cannot match.
            let captures = if decoder.regex_literals.is_some_and(|set| !present(set)) {
                None
            } else {
                regex.captures(&log[from..])
            };
            match captures {
                None => {
                    if decoder.get_next {
                        i += 1;
                        continue;
                    }
                    return;
                }
                Some(captures) => {
                    previous_regex_end = Some(from + captures.match_end);
                    out.decoder = Some(chain[i]);
                    for (group, value) in captures.groups.iter().enumerate() {
                        if let Some(name) = decoder.order.get(group) {
                            if !out.fields.set_shared(name, value) {
                                out.dropped_fields += 1;
                            }
                        }
                    }
                    if !decoder.get_next {
                        return;
                    }
                    i += 1;
                }
            }
        }
    }
}

/// An array as Wazuh's JSON printer writes it: elements separated by a comma and a space
/// (`["a", "b"]`, `[]`), nested values compact.
fn array_text(items: &[serde_json::Value]) -> String {
    let parts: Vec<String> = items
        .iter()
        .map(|item| match item {
            serde_json::Value::Array(inner) => array_text(inner),
            other => other.to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Nesting deeper than this in a JSON log is not flattened further.
const MAX_JSON_DEPTH: usize = 32;

/// Wazuh's JSON plugin decoder: flatten objects into dotted keys, arrays into
/// comma-separated strings (or JSON text), and keep nulls as "null" unless told to discard.
fn decode_json(text: &str, decoder: &Decoder, out: &mut Decoded) {
    let text = text.trim_start();
    // Wazuh parses the first JSON value and ignores what follows it.
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    let Some(Ok(value)) = stream.next() else {
        return;
    };
    fn number_text(n: &serde_json::Number) -> String {
        if let Some(i) = n.as_i64() {
            if i32::try_from(i).is_ok() {
                return i.to_string();
            }
        }
        format!("{:.6}", n.as_f64().unwrap_or(0.0))
    }
    fn scalar_text(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(number_text(n)),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            serde_json::Value::Null => Some("null".into()),
            _ => None,
        }
    }
    fn walk(
        prefix: Option<&str>,
        value: &serde_json::Value,
        decoder: &Decoder,
        out: &mut Decoded,
        depth: usize,
    ) {
        let serde_json::Value::Object(map) = value else {
            return;
        };
        if depth > MAX_JSON_DEPTH {
            return;
        }
        for (key, v) in map {
            let full = match prefix {
                Some(p) => format!("{p}.{key}"),
                None => key.clone(),
            };
            let text = match v {
                serde_json::Value::Object(_) => {
                    walk(Some(&full), v, decoder, out, depth + 1);
                    continue;
                }
                serde_json::Value::Null => match decoder.json_null {
                    JsonNull::Discard => continue,
                    JsonNull::AsString => "null".to_string(),
                },
                serde_json::Value::Array(items) => match decoder.json_array {
                    JsonArray::Array => array_text(items),
                    JsonArray::CsvString => {
                        let parts: Vec<String> = items.iter().filter_map(scalar_text).collect();
                        if parts.is_empty() {
                            continue;
                        }
                        parts.join(",")
                    }
                },
                other => match scalar_text(other) {
                    Some(t) => t,
                    None => continue,
                },
            };
            if !out.fields.set(&full, &text) {
                out.dropped_fields += 1;
            }
        }
    }
    walk(None, &value, decoder, out, 0);
}

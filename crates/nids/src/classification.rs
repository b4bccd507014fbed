//! Readers for `classification.config` and `reference.config`.
//!
//! Both are lines of `config <kind>: ...`; `#` starts a comment. Bad lines are reported with
//! their line number and the rest still loads.

use std::collections::HashMap;

/// One classtype: its description and default priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classtype {
    /// Short name used by rules (`trojan-activity`).
    pub name: String,
    /// Human description (`A Network Trojan was detected`).
    pub description: String,
    /// Default priority (1 is highest).
    pub priority: u8,
}

/// The classtypes of a `classification.config`.
#[derive(Debug, Clone, Default)]
pub struct Classifications {
    by_name: HashMap<String, Classtype>,
}

/// A line of a config file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ConfigLineError {
    /// 1-based line number.
    pub line: u32,
    /// What is wrong.
    pub message: String,
}

fn config_lines<'a>(
    text: &'a str,
    kind: &'a str,
) -> impl Iterator<Item = (u32, Result<&'a str, String>)> + 'a {
    text.lines().enumerate().filter_map(move |(i, l)| {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            return None;
        }
        let line = i as u32 + 1;
        let body = l
            .strip_prefix("config")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix(kind))
            .and_then(|r| r.trim_start().strip_prefix(':'))
            .map(str::trim)
            .ok_or_else(|| format!("expected `config {kind}: ...`"));
        Some((line, body))
    })
}

impl Classifications {
    /// Reads a `classification.config`. Later definitions of a name replace earlier ones.
    pub fn parse(text: &str) -> (Classifications, Vec<ConfigLineError>) {
        let mut c = Classifications::default();
        let mut errors = Vec::new();
        for (line, body) in config_lines(text, "classification") {
            let parsed = body.and_then(|b| {
                let mut parts = b.splitn(3, ',').map(str::trim);
                let name = parts
                    .next()
                    .filter(|n| !n.is_empty())
                    .ok_or("missing name")?;
                let description = parts.next().ok_or("missing description")?;
                let prio = parts.next().ok_or("missing priority")?;
                let priority: u8 = prio.parse().map_err(|_| format!("bad priority `{prio}`"))?;
                Ok(Classtype {
                    name: name.to_string(),
                    description: description.to_string(),
                    priority,
                })
            });
            match parsed {
                Ok(ct) => {
                    c.by_name.insert(ct.name.clone(), ct);
                }
                Err(message) => errors.push(ConfigLineError { line, message }),
            }
        }
        (c, errors)
    }

    /// Looks a classtype up by name.
    pub fn get(&self, name: &str) -> Option<&Classtype> {
        self.by_name.get(name)
    }

    /// Number of classtypes.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// The reference systems of a `reference.config`: system name → URL prefix.
#[derive(Debug, Clone, Default)]
pub struct ReferenceSystems {
    by_name: HashMap<String, String>,
}

impl ReferenceSystems {
    /// Reads a `reference.config`.
    pub fn parse(text: &str) -> (ReferenceSystems, Vec<ConfigLineError>) {
        let mut r = ReferenceSystems::default();
        let mut errors = Vec::new();
        for (line, body) in config_lines(text, "reference") {
            let parsed = body.and_then(|b| {
                let (name, url) = b
                    .split_once(char::is_whitespace)
                    .ok_or("expected `name url`")?;
                Ok((name.trim().to_ascii_lowercase(), url.trim().to_string()))
            });
            match parsed {
                Ok((name, url)) => {
                    r.by_name.insert(name, url);
                }
                Err(message) => errors.push(ConfigLineError {
                    line,
                    message: message.to_string(),
                }),
            }
        }
        (r, errors)
    }

    /// The full URL for a rule reference, if its system is known.
    pub fn url(&self, system: &str, id: &str) -> Option<String> {
        self.by_name
            .get(&system.to_ascii_lowercase())
            .map(|p| format!("{p}{id}"))
    }

    /// Number of systems.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_lines() {
        let (c, e) = Classifications::parse(
            "# comment\nconfig classification: trojan-activity,A Network Trojan was detected,1\nconfig classification: bad-unknown,Potentially Bad Traffic, 2\nconfig classification: broken\nnonsense\n",
        );
        assert_eq!(c.len(), 2);
        let t = c.get("trojan-activity").unwrap();
        assert_eq!(
            (t.description.as_str(), t.priority),
            ("A Network Trojan was detected", 1)
        );
        assert_eq!(c.get("bad-unknown").unwrap().priority, 2);
        assert_eq!(e.iter().map(|x| x.line).collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn reference_lines() {
        let (r, e) = ReferenceSystems::parse("config reference: cve       http://cve.example/?name=\nconfig reference: url http://\n");
        assert!(e.is_empty());
        assert_eq!(
            r.url("CVE", "2020-1").as_deref(),
            Some("http://cve.example/?name=2020-1")
        );
        assert_eq!(r.url("nope", "x"), None);
    }
}

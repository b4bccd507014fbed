//! The agent's configuration file: one typed section per source, unknown keys refused, and
//! errors that name the key and its line.

use crate::fim::FimConfig;
use crate::honeytoken::HoneytokenConfig;
use crate::journal::JournalConfig;
use crate::tail::TailConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// `picket agent`'s configuration (TOML).
///
/// ```toml
/// state_dir = "/var/lib/picket/agent"
/// host = "work"               # optional; the transport's authenticated name wins
///
/// [heartbeat]
/// interval_secs = 60
///
/// [[logfile]]
/// path = "/var/log/auth.log"
///
/// [journald]                   # present = enabled
/// units = ["ssh.service"]
///
/// [fim]                        # defaults: /rw, /home, /usr/local, /etc
/// ignore = ["**/.cache"]
///
/// [honeytokens]
/// paths = ["/home/user/passwords.kdbx"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// Where bookmarks, the journal cursor and the FIM baseline are kept.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Name put in each record's `host`; omitted when unset.
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub heartbeat: HeartbeatConfig,
    /// Log files to follow.
    #[serde(default)]
    pub logfile: Vec<TailConfig>,
    /// Follow the journal when this section is present.
    #[serde(default)]
    pub journald: Option<JournalConfig>,
    /// File integrity, when this section is present.
    #[serde(default)]
    pub fim: Option<FimConfig>,
    /// Honeytokens, when this section is present.
    #[serde(default)]
    pub honeytokens: Option<HoneytokenConfig>,
}

/// Heartbeat settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatConfig {
    /// Seconds between heartbeats; 0 turns them off.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            interval_secs: default_interval(),
        }
    }
}

fn default_interval() -> u64 {
    60
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/picket/agent")
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The TOML is malformed, has an unknown key or a wrong type (the message names the key
    /// and the line).
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// The values parse but make no sense together.
    #[error("{path}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

impl AgentConfig {
    /// Parse and validate `text`, read from `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let config: AgentConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Read, parse and validate the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: String, message: &str| ConfigError::Invalid {
            path: path.to_path_buf(),
            key,
            message: message.to_string(),
        };
        for (i, f) in self.logfile.iter().enumerate() {
            if f.max_line == 0 {
                return Err(invalid(
                    format!("logfile[{i}].max_line"),
                    "must be at least 1",
                ));
            }
            if !f.path.is_absolute() {
                return Err(invalid(format!("logfile[{i}].path"), "must be absolute"));
            }
        }
        if let Some(fim) = &self.fim {
            if fim.paths.is_empty() {
                return Err(invalid("fim.paths".into(), "names no path"));
            }
            if let Some((i, _)) = fim.paths.iter().enumerate().find(|(_, p)| !p.is_absolute()) {
                return Err(invalid(format!("fim.paths[{i}]"), "must be absolute"));
            }
            if fim.root.as_ref().is_some_and(|r| !r.is_absolute()) {
                return Err(invalid("fim.root".into(), "must be absolute"));
            }
            if let Err(e) = fim.scope() {
                return Err(invalid("fim.ignore".into(), &e.to_string()));
            }
        }
        if let Some(h) = &self.honeytokens {
            if h.paths.is_empty() {
                return Err(invalid("honeytokens.paths".into(), "names no file"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AgentConfig, ConfigError> {
        AgentConfig::parse(text, Path::new("agent.toml"))
    }

    #[test]
    fn full_example_parses_with_defaults_filled_in() {
        let c = parse(
            r#"
state_dir = "/tmp/s"
[heartbeat]
interval_secs = 5
[[logfile]]
path = "/var/log/auth.log"
[journald]
units = ["ssh.service"]
[fim]
ignore = ["**/.cache"]
[honeytokens]
paths = ["/home/user/passwords.kdbx"]
method = "inotify"
"#,
        )
        .expect("parses");
        assert_eq!(c.logfile[0].max_line, 64 * 1024);
        assert_eq!(c.fim.as_ref().map(|f| f.paths.len()), Some(4));
        assert!(c.journald.is_some());
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let err = parse("[fim]\npaths = [\"/etc\"]\nmax_size = 5\n").expect_err("unknown key");
        let text = err.to_string();
        assert!(
            text.contains("max_size") && text.contains("line 3"),
            "{text}"
        );
        assert!(text.starts_with("agent.toml"), "{text}");
    }

    #[test]
    fn invalid_values_name_their_key() {
        let err = parse("[[logfile]]\npath = \"relative.log\"\n").expect_err("relative");
        assert!(err.to_string().contains("logfile[0].path"), "{err}");
        let err = parse("[fim]\nignore = [\"[\"]\n").expect_err("bad glob");
        assert!(err.to_string().contains("fim.ignore"), "{err}");
    }
}

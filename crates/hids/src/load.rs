//! Finding and reading the files of a ruleset root, in the order OSSEC and Wazuh read them.
//!
//! Decoders come from `decoders/*.xml` or `etc/decoder.xml` (plus `etc/decoders/*.xml`),
//! rules from `rules/*.xml`, lists from `lists/` (any depth). Files load in name order, with
//! `*rules_config.xml` (the category roots) first. Wazuh numbers its files so that name
//! order is dependency order; OSSEC does not, so a rule whose parent appears in a later file
//! is placed once that file is read instead of being dropped.

use crate::decoder::DecoderSet;
use crate::engine::Ruleset;
use crate::error::LoadError;
use crate::lists::CdbList;
use crate::rules::RuleSet;
use crate::xml;
use crate::LoadReport;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A file compiled into the binary (picket's own default ruleset).
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedFile {
    /// Path relative to the ruleset root, such as `rules/sshd.xml`.
    pub path: &'static str,
    pub contents: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Decoder,
    Rule,
    List,
}

struct Source {
    kind: Kind,
    /// Where it came from (a path on disk, or the embedded relative path).
    path: PathBuf,
    /// Key under which rules may name a list.
    list_key: String,
    text: String,
}

fn read_dir_sorted(dir: &Path, ext: Option<&str>) -> Result<Vec<PathBuf>, LoadError> {
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            continue;
        }
        if let Some(ext) = ext {
            if path.extension().and_then(|e| e.to_str()) != Some(ext) {
                continue;
            }
        }
        files.push(path);
    }
    files.sort();
    Ok(files)
}

/// The order in which OSSEC's stock configuration includes its rule files. Load order
/// decides which rules an `if_group` child attaches to (only rules already loaded) and the
/// order of equal-level siblings, so an OSSEC ruleset (whose file names carry no numbers)
/// loads in this order; files not named here follow in name order. Wazuh numbers its files,
/// and none of its names is in this list.
const OSSEC_STOCK_ORDER: &[&str] = &[
    "rules_config.xml",
    "pam_rules.xml",
    "sshd_rules.xml",
    "telnetd_rules.xml",
    "syslog_rules.xml",
    "arpwatch_rules.xml",
    "symantec-av_rules.xml",
    "symantec-ws_rules.xml",
    "pix_rules.xml",
    "named_rules.xml",
    "smbd_rules.xml",
    "vsftpd_rules.xml",
    "pure-ftpd_rules.xml",
    "proftpd_rules.xml",
    "ms_ftpd_rules.xml",
    "ftpd_rules.xml",
    "hordeimp_rules.xml",
    "roundcube_rules.xml",
    "wordpress_rules.xml",
    "cimserver_rules.xml",
    "vpopmail_rules.xml",
    "vmpop3d_rules.xml",
    "courier_rules.xml",
    "web_rules.xml",
    "web_appsec_rules.xml",
    "apache_rules.xml",
    "nginx_rules.xml",
    "modsecurity_rules.xml",
    "php_rules.xml",
    "mysql_rules.xml",
    "postgresql_rules.xml",
    "ids_rules.xml",
    "squid_rules.xml",
    "firewall_rules.xml",
    "apparmor_rules.xml",
    "cisco-ios_rules.xml",
    "netscreenfw_rules.xml",
    "sonicwall_rules.xml",
    "postfix_rules.xml",
    "sendmail_rules.xml",
    "imapd_rules.xml",
    "mailscanner_rules.xml",
    "dovecot_rules.xml",
    "ms-exchange_rules.xml",
    "racoon_rules.xml",
    "vpn_concentrator_rules.xml",
    "spamd_rules.xml",
    "msauth_rules.xml",
    "mcafee_av_rules.xml",
    "trend-osce_rules.xml",
    "ms-se_rules.xml",
    "zeus_rules.xml",
    "solaris_bsm_rules.xml",
    "vmware_rules.xml",
    "ms_dhcp_rules.xml",
    "asterisk_rules.xml",
    "ossec_rules.xml",
    "attack_rules.xml",
    "dropbear_rules.xml",
    "unbound_rules.xml",
    "sysmon_rules.xml",
    "opensmtpd_rules.xml",
    "exim_rules.xml",
    "openbsd-dhcpd_rules.xml",
    "dnsmasq_rules.xml",
    "cpanel_rules.xml",
];

fn rules_first(paths: &mut [PathBuf]) {
    paths.sort_by_key(|p| {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let stock = OSSEC_STOCK_ORDER.iter().position(|s| *s == name);
        // Category roots first, then OSSEC's stock order, then the rest by name (Wazuh's
        // numbered files, local rules).
        (
            !name.contains("rules_config"),
            stock.is_none(),
            stock.unwrap_or(0),
            name,
        )
    });
}

fn read(path: &Path) -> Result<String, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn collect_lists(
    dir: &Path,
    root: &Path,
    out: &mut Vec<Source>,
    depth: usize,
) -> Result<(), LoadError> {
    if depth > 8 {
        return Ok(());
    }
    let io = |source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_lists(&path, root, out, depth + 1)?;
        } else if path.extension().and_then(|e| e.to_str()) != Some("cdb") {
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push(Source {
                kind: Kind::List,
                text: read(&path)?,
                list_key: key,
                path,
            });
        }
    }
    Ok(())
}

/// Load the rulesets rooted at `roots`, in order (later roots can overwrite rules of
/// earlier ones).
pub fn load_ruleset(roots: &[PathBuf]) -> Result<(Ruleset, LoadReport), LoadError> {
    load_ruleset_with(roots, &LoadOptions::default())
}

/// How to pick the rule files of a ruleset root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Load only these rule files, in this order, as an `ossec.conf` `<rules>` section
    /// names them (see [`rule_includes_from_conf`]). `None` loads every file.
    pub rule_files: Option<Vec<String>>,
}

/// The `<include>` (and `<rule_include>`) file names of an `ossec.conf`'s `<rules>`
/// sections, in order. Commented-out includes are not included.
pub fn rule_includes_from_conf(text: &str) -> Result<Vec<String>, crate::xml::XmlError> {
    let roots = xml::parse(text)?;
    let mut names = Vec::new();
    fn walk(element: &xml::Element, inside_rules: bool, names: &mut Vec<String>) {
        let here = inside_rules || element.name == "rules";
        for child in &element.children {
            if here && (child.name == "include" || child.name == "rule_include") {
                let name = child.text.trim();
                let base = name.rsplit('/').next().unwrap_or(name);
                names.push(base.to_string());
            } else {
                walk(child, here, names);
            }
        }
    }
    for root in &roots {
        walk(root, false, &mut names);
    }
    Ok(names)
}

/// OSSEC's stock `ossec.conf` rule includes, in order: what its own test runner loads.
pub fn ossec_stock_rule_files() -> Vec<String> {
    OSSEC_STOCK_ORDER
        .iter()
        .map(|s| s.to_string())
        .chain(std::iter::once("local_rules.xml".to_string()))
        .collect()
}

/// [`load_ruleset`] with options.
pub fn load_ruleset_with(
    roots: &[PathBuf],
    options: &LoadOptions,
) -> Result<(Ruleset, LoadReport), LoadError> {
    let mut sources = Vec::new();
    for root in roots {
        let mut found_decoders = false;
        let etc_decoder = root.join("etc/decoder.xml");
        if etc_decoder.is_file() {
            sources.push(Source {
                kind: Kind::Decoder,
                text: read(&etc_decoder)?,
                path: etc_decoder,
                list_key: String::new(),
            });
            found_decoders = true;
        }
        for dir in [root.join("etc/decoders"), root.join("decoders")] {
            if dir.is_dir() {
                for path in read_dir_sorted(&dir, Some("xml"))? {
                    sources.push(Source {
                        kind: Kind::Decoder,
                        text: read(&path)?,
                        path,
                        list_key: String::new(),
                    });
                }
                found_decoders = true;
            }
        }
        let rules_dir = root.join("rules");
        if !rules_dir.is_dir() && !found_decoders {
            return Err(LoadError::Layout {
                path: root.clone(),
                message: "not a ruleset root: expected rules/ and decoders/ or etc/decoder.xml"
                    .into(),
            });
        }
        if rules_dir.is_dir() {
            let mut files = read_dir_sorted(&rules_dir, Some("xml"))?;
            rules_first(&mut files);
            if let Some(wanted) = &options.rule_files {
                let name_of = |p: &PathBuf| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or("")
                        .to_string()
                };
                files.retain(|p| wanted.contains(&name_of(p)));
                files.sort_by_key(|p| wanted.iter().position(|w| *w == name_of(p)));
            }
            for path in files {
                sources.push(Source {
                    kind: Kind::Rule,
                    text: read(&path)?,
                    path,
                    list_key: String::new(),
                });
            }
        }
        for dir in [root.join("lists"), root.join("etc/lists")] {
            if dir.is_dir() {
                collect_lists(&dir, root, &mut sources, 0)?;
            }
        }
    }
    build(sources)
}

/// Load a ruleset compiled into the binary.
pub fn load_embedded(files: &[EmbeddedFile]) -> Result<(Ruleset, LoadReport), LoadError> {
    let mut sources: Vec<Source> = files
        .iter()
        .filter_map(|f| {
            let kind = if f.path.starts_with("decoders/") || f.path.starts_with("etc/decoder") {
                Kind::Decoder
            } else if f.path.starts_with("rules/") && f.path.ends_with(".xml") {
                Kind::Rule
            } else if f.path.starts_with("lists/") {
                Kind::List
            } else {
                return None;
            };
            Some(Source {
                kind,
                path: PathBuf::from(f.path),
                list_key: f.path.to_string(),
                text: f.contents.to_string(),
            })
        })
        .collect();
    sources.sort_by_key(|s| {
        let name = s
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        (s.kind as u8, !name.contains("rules_config"), s.path.clone())
    });
    build(sources)
}

fn build(sources: Vec<Source>) -> Result<(Ruleset, LoadReport), LoadError> {
    let mut report = LoadReport::default();
    let mut decoders = DecoderSet::default();
    let mut rules = RuleSet::default();
    let mut lists = HashMap::new();
    let mut pending = Vec::new();
    for source in sources.iter().filter(|s| s.kind == Kind::Decoder) {
        let roots = xml::parse(&source.text).map_err(|e| LoadError::Xml {
            path: source.path.clone(),
            line: e.line,
            message: e.message,
        })?;
        decoders.load(&source.path, &roots, &mut report)?;
        report.decoder_files += 1;
    }
    for source in sources.iter().filter(|s| s.kind == Kind::Rule) {
        let roots = xml::parse(&source.text).map_err(|e| LoadError::Xml {
            path: source.path.clone(),
            line: e.line,
            message: e.message,
        })?;
        pending.extend(rules.load(&source.path, &roots, &mut report)?);
        report.rule_files += 1;
    }
    rules.place_pending(pending, &mut report);
    for source in sources.iter().filter(|s| s.kind == Kind::List) {
        let list = CdbList::parse(&source.text);
        let base = source
            .list_key
            .rsplit('/')
            .next()
            .unwrap_or(&source.list_key)
            .to_string();
        lists.insert(format!("etc/{}", source.list_key), list.clone());
        lists.insert(base, list.clone());
        lists.insert(source.list_key.clone(), list);
        report.lists += 1;
    }
    for rule in &rules.rules {
        if let Some(name) = &rule.decoded_as {
            if !decoders.has_name(name) {
                report.unsupported(format!("decoded_as names unknown decoder {name:?}"));
            }
        }
        for list in &rule.lists {
            let base = list.list.rsplit('/').next().unwrap_or(&list.list);
            if !lists.contains_key(&list.list) && !lists.contains_key(base) {
                report.unsupported(format!("list {:?} not found", list.list));
            }
        }
    }
    if decoders.is_empty() && rules.rules.is_empty() {
        return Err(LoadError::Layout {
            path: PathBuf::from("."),
            message: "the ruleset holds no decoders and no rules".into(),
        });
    }
    report.decoders = decoders.len();
    report.rules = rules.rules.len();
    Ok((Ruleset::new(decoders, rules, lists), report))
}

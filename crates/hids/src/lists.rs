//! CDB lists as rules use them (`<list field="srcip" lookup="address_match_key">`).
//!
//! OSSEC compiles `key:value` text files into CDB databases; we read the text files and
//! keep a hash map, which gives the same answers without a compile step.

use std::collections::HashMap;

/// One list: keys with optional values.
#[derive(Debug, Clone, Default)]
pub struct CdbList {
    entries: HashMap<String, String>,
}

/// Lists larger than this many entries are cut (and the loader reports it).
pub const MAX_LIST_ENTRIES: usize = 2_000_000;

impl CdbList {
    /// Parse the text form: one `key:value` (or `key`) a line. Keys may be quoted, which
    /// lets them contain colons.
    pub fn parse(text: &str) -> CdbList {
        let mut entries = HashMap::new();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.is_empty() || entries.len() >= MAX_LIST_ENTRIES {
                continue;
            }
            let (key, value) = if let Some(rest) = line.strip_prefix('"') {
                match rest.find('"') {
                    Some(end) => {
                        let key = &rest[..end];
                        let after = &rest[end + 1..];
                        (key, after.strip_prefix(':').unwrap_or(after))
                    }
                    None => (rest, ""),
                }
            } else {
                match line.find(':') {
                    Some(i) => (&line[..i], &line[i + 1..]),
                    None => (line, ""),
                }
            };
            let value = value.trim_matches('"');
            entries.insert(key.to_string(), value.to_string());
        }
        CdbList { entries }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Address lookups also match the network prefixes of an IPv4 address, octet by octet
    /// ("10.1.2.3", then "10.1.2", "10.1", "10"), so a list can name whole networks.
    pub fn get_address(&self, address: &str) -> Option<&str> {
        if let Some(v) = self.get(address) {
            return Some(v);
        }
        let mut candidate = address;
        while let Some(dot) = candidate.rfind('.') {
            candidate = &candidate[..dot];
            if let Some(v) = self.get(candidate) {
                return Some(v);
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_values_quotes_and_prefixes() {
        let list = CdbList::parse("admin:yes\n\"a:b\":quoted\n10.1:net\nplain\n");
        assert_eq!(list.get("admin"), Some("yes"));
        assert_eq!(list.get("a:b"), Some("quoted"));
        assert_eq!(list.get("plain"), Some(""));
        assert_eq!(list.get_address("10.1.7.9"), Some("net"));
        assert_eq!(list.get_address("10.2.7.9"), None);
    }
}

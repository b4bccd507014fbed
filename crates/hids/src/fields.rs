//! Decoded fields. OSSEC has a fixed set of "static" fields with their own names and
//! aliases (`user` is `dstuser`, `data` is `extra_data`); Wazuh adds free-named dynamic
//! fields. We keep both in one small ordered list under canonical names, so rules,
//! `same_field` and description substitution look them up the same way.

use std::sync::Arc;

/// Canonical name of a field named in a decoder's `<order>` or a rule.
pub fn canonical(name: &str) -> &str {
    match name {
        "user" | "dstuser" => "dstuser",
        "systemname" | "system_name" => "system_name",
        "srcip" | "source_ip" => "srcip",
        other => other,
    }
}

/// The fields of one event, in the order decoders set them. Names are shared with the
/// decoder that set them; values live in one text buffer, so recording a field allocates
/// nothing once the buffer has grown, and a session reuses one `Fields` for every line.
#[derive(Debug, Clone, Default)]
pub struct Fields {
    /// Name and the value's byte range in `text`.
    entries: Vec<(Arc<str>, u32, u32)>,
    /// The values, one after another. A value replaced by a longer one is appended anew
    /// and the old bytes stay unused until [`Fields::clear`]; the buffer is therefore at
    /// most the sum of the values set for one event, each capped at [`MAX_FIELD_LEN`].
    text: String,
}

/// A decoder may emit at most this many fields; further ones are dropped (and counted by
/// the engine), so a JSON bomb cannot grow an event without bound.
pub const MAX_FIELDS: usize = 256;
/// A field value is cut at this many bytes.
pub const MAX_FIELD_LEN: usize = 64 * 1024;

impl PartialEq for Fields {
    /// Equal when the same names hold the same values in the same order, however the
    /// values are laid out in the buffer.
    fn eq(&self, other: &Fields) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Fields {}

impl Fields {
    /// Set a field, replacing an earlier value of the same name. Returns false when the
    /// field was refused because the event already has [`MAX_FIELDS`].
    pub fn set(&mut self, name: &str, value: &str) -> bool {
        let name = canonical(name.trim());
        self.set_with(name, || Arc::from(name), value)
    }

    /// [`Fields::set`] with a name that is already trimmed and canonical, shared rather
    /// than copied.
    pub fn set_shared(&mut self, name: &Arc<str>, value: &str) -> bool {
        self.set_with(name, || Arc::clone(name), value)
    }

    fn set_with(&mut self, name: &str, owned: impl FnOnce() -> Arc<str>, value: &str) -> bool {
        let mut end = value.len().min(MAX_FIELD_LEN);
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        let value = &value[..end];
        let slot = self.entries.iter().position(|(k, _, _)| &**k == name);
        if slot.is_none() && self.entries.len() >= MAX_FIELDS {
            return false;
        }
        // Offsets are u32: a value that would take the buffer past 4 GiB (possible only if
        // one event's fields are set again and again) is refused.
        if self.text.len() + value.len() > u32::MAX as usize {
            return false;
        }
        let start = self.text.len() as u32;
        self.text.push_str(value);
        let range_end = self.text.len() as u32;
        match slot.and_then(|i| self.entries.get_mut(i)) {
            Some(entry) => {
                entry.1 = start;
                entry.2 = range_end;
            }
            None => self.entries.push((owned(), start, range_end)),
        }
        true
    }

    /// Forget every field, keeping the buffers for the next event.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.text.clear();
    }

    fn value(&self, start: u32, end: u32) -> &str {
        self.text.get(start as usize..end as usize).unwrap_or("")
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_canonical(canonical(name))
    }

    /// Look up a name that is already canonical (rules store canonical names), skipping
    /// the alias mapping on the hot path.
    pub fn get_canonical(&self, name: &str) -> Option<&str> {
        // Wazuh looks fields up ignoring case (`ScriptBlockId` finds `scriptBlockId`); an
        // exact match is tried first since it is the common case.
        let found = self
            .entries
            .iter()
            .find(|(k, _, _)| &**k == name)
            .or_else(|| {
                self.entries
                    .iter()
                    .find(|(k, _, _)| k.eq_ignore_ascii_case(name))
            })
            .map(|&(_, start, end)| self.value(start, end));
        // Wazuh keeps `data` and `extra_data` apart; OSSEC has one field for both. A rule on
        // one therefore also sees the other when only that one was decoded.
        found.or_else(|| match name {
            "data" => self.get_exact("extra_data"),
            "extra_data" => self.get_exact("data"),
            _ => None,
        })
    }

    fn get_exact(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _, _)| &**k == name)
            .map(|&(_, start, end)| self.value(start, end))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(k, start, end)| (&**k, self.value(*start, *end)))
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
    fn aliases_share_one_slot_and_later_values_win() {
        let mut f = Fields::default();
        f.set("user", "alice");
        f.set("dstuser", "bob");
        f.set(" data", "x");
        assert_eq!(f.get("user"), Some("bob"));
        assert_eq!(
            f.get("extra_data"),
            Some("x"),
            "extra_data falls back to data"
        );
        assert_eq!(f.len(), 2);
        f.set("extra_data", "y");
        assert_eq!(
            (f.get("data"), f.get("extra_data")),
            (Some("x"), Some("y")),
            "kept apart"
        );
    }

    #[test]
    fn field_count_and_length_are_capped() {
        let mut f = Fields::default();
        for i in 0..MAX_FIELDS + 10 {
            f.set(&format!("k{i}"), "v");
        }
        assert_eq!(f.len(), MAX_FIELDS);
        f.set("k0", &"é".repeat(MAX_FIELD_LEN));
        assert!(f.get("k0").unwrap().len() <= MAX_FIELD_LEN);
    }

    #[test]
    fn cleared_fields_are_empty_and_equality_ignores_layout() {
        let mut a = Fields::default();
        a.set("srcip", "1.2.3.4");
        a.set("srcip", "10.0.0.1");
        a.set("user", "é");
        a.set("user", "x");
        let mut b = Fields::default();
        b.set("srcip", "10.0.0.1");
        b.set("user", "x");
        assert_eq!(a, b, "same names and values in the same order");
        assert_eq!(
            a.iter().collect::<Vec<_>>(),
            [("srcip", "10.0.0.1"), ("dstuser", "x")]
        );
        a.clear();
        assert!(a.is_empty());
        assert_eq!(a.get("srcip"), None);
        a.set("srcip", "5.6.7.8");
        assert_eq!(a.get("srcip"), Some("5.6.7.8"));
    }
}

//! Splits rule-file text into logical rules: comments, blank lines, disabled rules
//! (`# alert ...`) and trailing-backslash continuations, keeping a map from each logical
//! rule's byte offsets back to the physical line and column.

use crate::error::Position;

/// One logical rule as read from the file, before parsing.
#[derive(Debug, Clone)]
pub struct RuleText {
    /// The rule with continuations joined (the backslash and line break removed).
    pub text: String,
    /// `(offset in text, line, column of that byte)` for the start of each physical piece.
    pieces: Vec<(usize, u32, u32)>,
    /// Set when the rule was commented out (`# alert ...`).
    pub disabled: bool,
}

impl RuleText {
    /// A single-line rule starting at line 1, column 1 (tests, fuzzing).
    pub fn single(text: &str) -> Self {
        RuleText {
            text: text.to_string(),
            pieces: vec![(0, 1, 1)],
            disabled: false,
        }
    }

    /// First line of the rule.
    pub fn line(&self) -> u32 {
        self.pieces.first().map_or(1, |p| p.1)
    }

    /// Line and column of a byte offset into `text`.
    pub fn position(&self, offset: usize) -> Position {
        let idx = match self.pieces.binary_search_by(|p| p.0.cmp(&offset)) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        let Some(&(start, line, col)) = self.pieces.get(idx) else {
            return Position { line: 1, column: 1 };
        };
        let end = offset.min(self.text.len());
        let start = start.min(end);
        let chars = self
            .text
            .get(start..end)
            .map_or(end - start, |s| s.chars().count());
        Position {
            line,
            column: col + chars as u32,
        }
    }
}

const ACTIONS: &[&str] = &[
    "alert",
    "pass",
    "drop",
    "reject",
    "rejectsrc",
    "rejectdst",
    "rejectboth",
    "config",
];

/// Whether a comment's text looks like a commented-out rule.
fn looks_like_rule(text: &str) -> bool {
    let t = text.trim_start();
    let word = t.split(|c: char| c.is_whitespace()).next().unwrap_or("");
    ACTIONS.contains(&word) && t.len() > word.len() && t.contains('(')
}

/// Splits a rule file into logical rules, enabled and disabled, in file order.
pub fn split_rules(input: &str) -> Vec<RuleText> {
    let mut out = Vec::new();
    let mut current: Option<RuleText> = None;
    for (idx, raw_line) in input.split('\n').enumerate() {
        let line_no = idx as u32 + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        let (body, continues) = match line.trim_end().strip_suffix('\\') {
            Some(b) => (b, true),
            None => (line, false),
        };
        if let Some(rule) = current.as_mut() {
            rule.pieces.push((rule.text.len(), line_no, 1));
            rule.text.push_str(body);
            if !continues {
                out.extend(current.take());
            }
            continue;
        }
        let trimmed = body.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        let lead = body.len() - trimmed.len();
        let lead_cols = body[..lead].chars().count() as u32;
        let (text, disabled, col) = if let Some(c) = trimmed.strip_prefix('#') {
            if !looks_like_rule(c) {
                continue;
            }
            let inner = c.trim_start();
            let skip = trimmed.len() - inner.len();
            (
                inner,
                true,
                lead_cols + trimmed[..skip].chars().count() as u32 + 1,
            )
        } else {
            (trimmed, false, lead_cols + 1)
        };
        let rule = RuleText {
            text: text.to_string(),
            pieces: vec![(0, line_no, col)],
            disabled,
        };
        if continues {
            current = Some(rule);
        } else {
            out.push(rule);
        }
    }
    out.extend(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blank_and_disabled_rules() {
        let text = "# a comment\n\n  alert tcp any any -> any any (sid:1;)\n# alert udp any any -> any any (sid:2;)\n#alert words without parens\n";
        let rules = split_rules(text);
        assert_eq!(rules.len(), 2);
        assert!(!rules[0].disabled);
        assert_eq!(rules[0].position(0), Position { line: 3, column: 3 });
        assert!(rules[1].disabled);
        assert_eq!(rules[1].position(0), Position { line: 4, column: 3 });
    }

    #[test]
    fn continuation_lines_map_back_to_their_line_and_column() {
        let text = "alert tcp any any -> any any \\\n  (msg:\"x\"; \\\r\n   sid:1;)\n";
        let rules = split_rules(text);
        assert_eq!(rules.len(), 1);
        let r = &rules[0];
        let sid = r.text.find("sid").unwrap();
        assert_eq!(r.position(sid), Position { line: 3, column: 4 });
        let msg = r.text.find("msg").unwrap();
        assert_eq!(r.position(msg), Position { line: 2, column: 4 });
    }
}

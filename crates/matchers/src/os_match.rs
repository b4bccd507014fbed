//! The `os_match` dialect (OSSEC's `OSMatch`, the default for a rule's `<match>`).
//!
//! It is not a regex: the pattern is cut at every `|` into alternatives, and each alternative is
//! a literal, compared ignoring ASCII case. A backslash is an ordinary character here, so there
//! is no way to write a literal `|`. An alternative that starts with `^` must be a prefix of the
//! text, one that ends with `$` a suffix, one with both the whole text. An empty alternative
//! matches everything, and so do `^` and `$` alone, while `^$` matches only the empty text.
//! Wazuh added a leading `!` that negates the whole pattern.

use crate::finder::{find_ignore_case, Finder};

/// How one alternative is compared with the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Anchor {
    /// Anywhere in the text.
    Anywhere,
    /// At the start (`^lit`).
    Start,
    /// At the end (`lit$`).
    End,
    /// The whole text (`^lit$`).
    Whole,
    /// Empty alternative: every text matches.
    Always,
}

#[derive(Clone, Debug)]
struct Alternative {
    anchor: Anchor,
    /// Lower-cased literal, without its anchors.
    literal: Vec<u8>,
}

impl Alternative {
    fn find_anywhere(&self, text: &[u8], finder: Option<&Finder>) -> Option<usize> {
        match finder {
            Some(f) => f.find(text),
            None => find_ignore_case(text, &self.literal),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct OsMatch {
    negate: bool,
    alternatives: Vec<Alternative>,
    /// Finds any unanchored alternative in one pass.
    anywhere: Option<Finder>,
    /// One finder per alternative (unanchored ones only), for spans in pattern order.
    each: Vec<Option<Finder>>,
    /// Whether some alternative matches every text.
    always: bool,
}

impl OsMatch {
    /// Compiles a pattern. OSSEC accepts every string here, so this cannot fail; the length
    /// limit is checked by the caller.
    pub(crate) fn compile(pattern: &str) -> OsMatch {
        let (negate, body) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let lowered = body.as_bytes().to_ascii_lowercase();
        let alternatives: Vec<Alternative> = lowered.split(|&b| b == b'|').map(classify).collect();
        let anywhere_literals: Vec<Vec<u8>> = alternatives
            .iter()
            .filter(|a| a.anchor == Anchor::Anywhere)
            .map(|a| a.literal.clone())
            .collect();
        let each = alternatives
            .iter()
            .map(|a| match a.anchor {
                Anchor::Anywhere if alternatives.len() > 1 => {
                    Finder::new(std::slice::from_ref(&a.literal))
                }
                _ => None,
            })
            .collect();
        OsMatch {
            negate,
            each,
            always: alternatives.iter().any(|a| a.anchor == Anchor::Always),
            anywhere: Finder::new(&anywhere_literals),
            alternatives,
        }
    }

    pub(crate) fn is_match(&self, text: &[u8]) -> bool {
        self.matches_unnegated(text) != self.negate
    }

    fn matches_unnegated(&self, text: &[u8]) -> bool {
        if self.always {
            return true;
        }
        let anchored = self.alternatives.iter().any(|a| match a.anchor {
            Anchor::Start => starts_with_ignore_case(text, &a.literal),
            Anchor::End => ends_with_ignore_case(text, &a.literal),
            Anchor::Whole => text.eq_ignore_ascii_case(&a.literal),
            Anchor::Anywhere | Anchor::Always => false,
        });
        anchored || self.anywhere.as_ref().is_some_and(|f| f.is_match(text))
    }

    /// The span of the first alternative (in pattern order, as OSSEC tries them) that matches.
    /// A negated pattern that matches reports an empty span at 0: nothing in the text matched.
    pub(crate) fn find(&self, text: &[u8]) -> Option<(usize, usize)> {
        let single = (self.alternatives.len() == 1)
            .then_some(self.anywhere.as_ref())
            .flatten();
        let found = self.alternatives.iter().zip(&self.each).find_map(|(a, f)| {
            let n = a.literal.len();
            match a.anchor {
                Anchor::Always => Some((0, 0)),
                Anchor::Start => starts_with_ignore_case(text, &a.literal).then_some((0, n)),
                Anchor::End => {
                    ends_with_ignore_case(text, &a.literal).then(|| (text.len() - n, text.len()))
                }
                Anchor::Whole => text.eq_ignore_ascii_case(&a.literal).then_some((0, n)),
                Anchor::Anywhere => a
                    .find_anywhere(text, f.as_ref().or(single))
                    .map(|s| (s, s + n)),
            }
        });
        match (found, self.negate) {
            (Some(span), false) => Some(span),
            (None, true) => Some((0, 0)),
            _ => None,
        }
    }

    /// One literal per alternative; `None` when an alternative matches everything or the
    /// pattern is negated.
    pub(crate) fn required_literals(&self) -> Option<Vec<String>> {
        if self.negate || self.always {
            return None;
        }
        let mut out = Vec::with_capacity(self.alternatives.len());
        for a in &self.alternatives {
            if a.literal.is_empty() {
                return None;
            }
            out.push(String::from_utf8(a.literal.clone()).ok()?);
        }
        out.sort();
        out.dedup();
        Some(out)
    }
}

/// Sorts one alternative into its kind the way OSSEC's compiler does, in the same order of
/// tests: `^...$` first, then empty, then `...$`, then `^...`.
fn classify(alt: &[u8]) -> Alternative {
    let starts = alt.first() == Some(&b'^');
    let ends = alt.last() == Some(&b'$');
    let (anchor, literal) = if starts && ends && alt.len() >= 2 {
        (Anchor::Whole, &alt[1..alt.len() - 1])
    } else if alt.is_empty() {
        (Anchor::Always, alt)
    } else if ends {
        (Anchor::End, &alt[..alt.len() - 1])
    } else if starts {
        (Anchor::Start, &alt[1..])
    } else {
        (Anchor::Anywhere, alt)
    };
    // `^` or `$` alone leave an empty literal, which OSSEC's prefix and suffix compares accept
    // for every text.
    let anchor = match anchor {
        Anchor::Start | Anchor::End if literal.is_empty() => Anchor::Always,
        other => other,
    };
    Alternative {
        anchor,
        literal: literal.to_vec(),
    }
}

fn starts_with_ignore_case(text: &[u8], lit: &[u8]) -> bool {
    text.len() >= lit.len() && text[..lit.len()].eq_ignore_ascii_case(lit)
}

fn ends_with_ignore_case(text: &[u8], lit: &[u8]) -> bool {
    text.len() >= lit.len() && text[text.len() - lit.len()..].eq_ignore_ascii_case(lit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        OsMatch::compile(p).is_match(t.as_bytes())
    }

    #[test]
    fn literal_anywhere_ignoring_case() {
        assert!(m("Failed password", "sshd[1]: FAILED PASSWORD for root"));
        assert!(!m("Failed password", "sshd[1]: Failed  password"));
    }

    #[test]
    fn alternatives_are_tried_each() {
        assert!(m("foo|bar|baz", "xxbazxx"));
        assert!(!m("foo|bar|baz", "ba z"));
    }

    #[test]
    fn anchors_per_alternative() {
        assert!(m("^Accepted", "accepted password"));
        assert!(!m("^Accepted", " Accepted password"));
        assert!(m("root$", "user root"));
        assert!(!m("root$", "root user"));
        assert!(m("^root$", "ROOT"));
        assert!(!m("^root$", "roots"));
        assert!(m("xyz|^abc", "abcdef"));
    }

    #[test]
    fn anchor_characters_elsewhere_are_literal() {
        assert!(m("a^b", "xa^bx"));
        assert!(m("a$b", "xa$bx"));
        assert!(!m("a$b", "xab"));
    }

    #[test]
    fn backslash_is_literal_and_cannot_escape_the_pipe() {
        assert!(m(r"c:\windows", r"C:\Windows\system32"));
        assert!(m(r"a\|b", r"xa\"));
        assert!(m(r"a\|b", "b"));
    }

    #[test]
    fn empty_alternatives_and_lone_anchors_match_everything() {
        assert!(m("", "anything"));
        assert!(m("foo|", "bar"));
        assert!(m("|foo", "bar"));
        assert!(m("^", "bar"));
        assert!(m("$", "bar"));
        assert!(m("^$", ""));
        assert!(!m("^$", "x"));
    }

    #[test]
    fn bang_negates_the_whole_pattern() {
        assert!(!m("!foo|bar", "xbarx"));
        assert!(m("!foo|bar", "baz"));
        assert!(!m("!", "anything"));
    }

    #[test]
    fn non_ascii_is_compared_bytewise_without_folding() {
        assert!(m("é", "café"));
        assert!(!m("É", "café"));
    }

    #[test]
    fn find_reports_the_first_alternative_in_pattern_order() {
        let p = OsMatch::compile("bar|foo");
        assert_eq!(p.find(b"foo bar"), Some((4, 7)));
        assert_eq!(OsMatch::compile("x$").find(b"abx"), Some((2, 3)));
    }

    #[test]
    fn required_literals_are_lowercased() {
        let p = OsMatch::compile("^Foo|BAR$|baz");
        assert_eq!(
            p.required_literals(),
            Some(vec!["bar".into(), "baz".into(), "foo".into()])
        );
        assert_eq!(OsMatch::compile("a|").required_literals(), None);
        assert_eq!(OsMatch::compile("!a").required_literals(), None);
    }
}

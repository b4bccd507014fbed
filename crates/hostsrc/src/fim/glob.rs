//! Ignore patterns, matched against whole paths: a small matcher of our own instead of a
//! general glob library, whose automata and regex engine were about 400 KB of code (and their
//! tables on the heap) resident in every idle agent.
//!
//! The syntax: `*` matches any run of characters, `/` included; `?` one character; `[abc]`,
//! `[a-z]` and `[!abc]` (or `[^abc]`) one character of a class; `{a,b}` either alternative;
//! `\` makes the next character literal. `**` as a whole component also matches no
//! component at all: `**/x` matches `x` and `.../x`, `a/**/b` matches `a/b`, `a/**` matches
//! everything below `a`.

/// One step of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Byte(u8),
    /// `?`: one character.
    Any,
    /// `*`: any run of bytes.
    Star,
    /// `[...]`: one character in (or, negated, not in) these inclusive ranges.
    Class {
        ranges: Vec<(char, char)>,
        negated: bool,
    },
}

/// A compiled pattern: it matches when one of its alternatives (from braces and `**`) does.
#[derive(Debug, Clone)]
pub struct Glob {
    alternatives: Vec<Vec<Token>>,
}

/// At most this many alternatives per pattern, so `{a,b}{c,d}...` cannot blow up.
const MAX_ALTERNATIVES: usize = 256;

impl Glob {
    /// Compile `pattern`; the error says why it does not parse.
    pub fn new(pattern: &str) -> Result<Glob, String> {
        let mut expanded = Vec::new();
        expand_braces(pattern, &mut expanded)?;
        let mut alternatives = Vec::new();
        for text in expanded {
            for text in expand_double_stars(&text) {
                let tokens = tokens(&text)?;
                if !alternatives.contains(&tokens) {
                    alternatives.push(tokens);
                }
            }
        }
        if alternatives.len() > MAX_ALTERNATIVES {
            return Err(format!("more than {MAX_ALTERNATIVES} alternatives"));
        }
        Ok(Glob { alternatives })
    }

    /// Whether the whole of `path` matches.
    pub fn is_match(&self, path: &[u8]) -> bool {
        self.alternatives.iter().any(|t| matches(t, path))
    }
}

/// Expand the first `{...}` group (outside escapes and classes) and recurse.
fn expand_braces(pattern: &str, out: &mut Vec<String>) -> Result<(), String> {
    if out.len() > MAX_ALTERNATIVES {
        return Err(format!("more than {MAX_ALTERNATIVES} alternatives"));
    }
    let bytes = pattern.as_bytes();
    let mut i = 0;
    let mut open = None;
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut in_class = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' if !in_class => in_class = true,
            b']' if in_class => in_class = false,
            b'{' if !in_class => {
                if depth == 0 {
                    open = Some(i);
                }
                depth += 1;
            }
            b',' if !in_class && depth == 1 => commas.push(i),
            b'}' if !in_class && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    let start = open.unwrap_or(0);
                    let (head, tail) = (&pattern[..start], &pattern[i + 1..]);
                    let mut from = start + 1;
                    for end in commas.iter().copied().chain(std::iter::once(i)) {
                        let choice = &pattern[from..end];
                        expand_braces(&format!("{head}{choice}{tail}"), out)?;
                        from = end + 1;
                    }
                    return Ok(());
                }
            }
            _ => {}
        }
        i += 1;
    }
    if depth > 0 {
        return Err("unclosed {".into());
    }
    out.push(pattern.to_owned());
    Ok(())
}

/// `**` components, which may also match nothing, as the plain patterns they stand for.
fn expand_double_stars(pattern: &str) -> Vec<String> {
    if pattern == "**" {
        return vec!["*".into()];
    }
    if let Some(rest) = pattern.strip_prefix("**/") {
        let mut out = expand_double_stars(rest);
        let below: Vec<String> = out.iter().map(|r| format!("*/{r}")).collect();
        out.extend(below);
        return out;
    }
    if let Some(at) = pattern.find("/**/") {
        let (head, tail) = (&pattern[..at], &pattern[at + 4..]);
        let mut out = Vec::new();
        for tail in expand_double_stars(tail) {
            out.push(format!("{head}/{tail}"));
            out.push(format!("{head}/*/{tail}"));
        }
        return out;
    }
    if let Some(head) = pattern.strip_suffix("/**") {
        return vec![format!("{head}/*")];
    }
    vec![pattern.to_owned()]
}

fn tokens(pattern: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                if out.last() != Some(&Token::Star) {
                    out.push(Token::Star);
                }
            }
            '?' => out.push(Token::Any),
            '\\' => {
                let lit = chars.next().ok_or("dangling \\")?;
                push_char(&mut out, lit);
            }
            '[' => {
                let negated = matches!(chars.peek(), Some('!' | '^'));
                if negated {
                    chars.next();
                }
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let c = chars.next().ok_or("unclosed [")?;
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    let lo = if c == '\\' {
                        chars.next().ok_or("unclosed [")?
                    } else {
                        c
                    };
                    let mut hi = lo;
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        match chars.next() {
                            Some(']') => {
                                ranges.push((lo, lo));
                                ranges.push(('-', '-'));
                                break;
                            }
                            Some(end) => hi = end,
                            None => return Err("unclosed [".into()),
                        }
                    }
                    if hi < lo {
                        return Err(format!("bad range {lo}-{hi}"));
                    }
                    ranges.push((lo, hi));
                }
                out.push(Token::Class { ranges, negated });
            }
            c => push_char(&mut out, c),
        }
    }
    Ok(out)
}

fn push_char(out: &mut Vec<Token>, c: char) {
    let mut buf = [0u8; 4];
    out.extend(c.encode_utf8(&mut buf).bytes().map(Token::Byte));
}

/// The character at the start of `bytes` and its length (a byte that is not UTF-8 counts as
/// one character of its own).
fn first_char(bytes: &[u8]) -> (Option<char>, usize) {
    let len = match bytes.first() {
        None => return (None, 0),
        Some(b) if *b < 0x80 => return (Some(char::from(*b)), 1),
        Some(b) if *b >= 0xF0 => 4,
        Some(b) if *b >= 0xE0 => 3,
        Some(_) => 2,
    };
    match bytes.get(..len).and_then(|b| std::str::from_utf8(b).ok()) {
        Some(s) => (s.chars().next(), len),
        None => (None, 1),
    }
}

/// How many bytes of `path` token `t` (not a star) consumes there, if it matches.
fn step(t: &Token, path: &[u8]) -> Option<usize> {
    match t {
        Token::Byte(b) => (path.first() == Some(b)).then_some(1),
        Token::Any => match first_char(path) {
            (_, 0) => None,
            (_, n) => Some(n),
        },
        Token::Class { ranges, negated } => {
            let (c, n) = first_char(path);
            if n == 0 {
                return None;
            }
            let inside = c.is_some_and(|c| ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)));
            (inside != *negated).then_some(n)
        }
        Token::Star => None,
    }
}

/// Wildcard matching that backtracks only to the last star, which is enough when every
/// other token consumes at least one byte: linear in practice, O(pattern × path) at worst.
fn matches(tokens: &[Token], path: &[u8]) -> bool {
    let (mut t, mut p) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if t < tokens.len() {
            if tokens[t] == Token::Star {
                resume = Some((t + 1, p));
                t += 1;
                continue;
            }
            if let Some(n) = step(&tokens[t], &path[p..]) {
                t += 1;
                p += n;
                continue;
            }
        } else if p == path.len() {
            return true;
        }
        match resume {
            Some((after_star, from)) if from < path.len() => {
                let (_, n) = first_char(&path[from..]);
                resume = Some((after_star, from + n.max(1)));
                t = after_star;
                p = from + n.max(1);
            }
            _ => return false,
        }
    }
}

/// A set of patterns; a path matching any of them is ignored.
#[derive(Debug, Clone, Default)]
pub struct GlobSet {
    globs: Vec<Glob>,
}

impl GlobSet {
    /// Compile every pattern; the error names the first that does not parse.
    pub fn new(patterns: &[String]) -> Result<GlobSet, (String, String)> {
        let globs = patterns
            .iter()
            .map(|p| Glob::new(p).map_err(|why| (p.clone(), why)))
            .collect::<Result<_, _>>()?;
        Ok(GlobSet { globs })
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.globs.is_empty()
    }

    /// Whether any pattern matches the whole of `path`.
    pub fn is_match(&self, path: &[u8]) -> bool {
        self.globs.iter().any(|g| g.is_match(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Glob::new(pattern)
            .expect("parses")
            .is_match(path.as_bytes())
    }

    #[test]
    fn the_default_ignores_match_as_documented() {
        assert!(m("**/.cache", "/home/user/.cache"));
        assert!(m("**/.cache", ".cache"));
        assert!(!m("**/.cache", "/home/user/.cache2"));
        assert!(!m("**/.cache", "/home/user/x.cache"));
        assert!(m("**/*.swp", "/etc/.passwd.swp"));
        assert!(!m("**/*.swp", "/etc/passwd.swpx"));
        assert!(m("**/.local/share/Trash", "/home/u/.local/share/Trash"));
        assert!(m("/etc/mtab", "/etc/mtab"));
        assert!(!m("/etc/mtab", "/etc/mtab2"));
        assert!(!m("/etc/mtab", "/x/etc/mtab"));
    }

    #[test]
    fn stars_classes_braces_and_escapes() {
        // `*` crosses `/`, as the matcher picket used before did by default.
        assert!(m("/rw/*.tmp", "/rw/a/b.tmp"));
        assert!(m("a/**/b", "a/b"));
        assert!(m("a/**/b", "a/x/y/b"));
        assert!(!m("a/**/b", "a/xb"));
        assert!(m("/var/**", "/var/log/x"));
        assert!(!m("/var/**", "/var"));
        assert!(m("f?o", "f\u{e9}o"));
        assert!(m("[a-c]x", "bx"));
        assert!(!m("[!a-c]x", "bx"));
        assert!(m("[^a-c]x", "dx"));
        assert!(m("[]]", "]"));
        assert!(m("[a-]", "-"));
        assert!(m("*.{conf,txt}", "/etc/x.txt"));
        assert!(!m("*.{conf,txt}", "/etc/x.sh"));
        assert!(m("{a,b{c,d}}z", "bdz"));
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "x"));
        assert!(m("*a*b*c", "xxaxxbxxbxc"));
        assert!(!m("*a*b*c", "xxaxxbxxbx"));
        assert!(m("", ""));
        assert!(!m("", "x"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["[abc", "{a,b", "x\\", "[z-a]"] {
            assert!(Glob::new(bad).is_err(), "{bad}");
        }
        assert!(Glob::new(&"{a,b}".repeat(9)).is_err());
    }
}

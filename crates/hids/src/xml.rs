//! A small, forgiving XML reader for OSSEC and Wazuh rule files.
//!
//! Those files are not XML documents in the strict sense: a file holds many root elements
//! (`<group>` after `<group>`, or `<decoder>` after `<decoder>`), patterns sit in text with
//! characters a strict parser rejects, and `<var name="X">` definitions are substituted into
//! later text as `$X`. So we read them the way OSSEC's own reader does: a sequence of root
//! elements, each with attributes, text and children, every node remembering its line so
//! that errors can name it.

use std::fmt;

/// One element with its attributes, its own text (concatenated) and its children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
    /// 1-based line of the opening tag.
    pub line: usize,
}

impl Element {
    /// The value of an attribute, by case-insensitive name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Why a file could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for XmlError {}

/// Nesting deeper than this is refused: rule files are three or four levels deep, and an
/// unbounded depth would let a hostile file exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Parse a whole file into its root elements, then apply `<var>` substitutions the way
/// OSSEC does. `<var>` elements are returned too, so callers can ignore them by name.
pub fn parse(text: &str) -> Result<Vec<Element>, XmlError> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    let mut roots = Vec::new();
    loop {
        reader.skip_misc()?;
        if reader.pos >= reader.bytes.len() {
            break;
        }
        if reader.bytes[reader.pos] != b'<' {
            // Stray text between root elements: OSSEC ignores whitespace only, but some
            // shipped files have stray characters; skip to the next tag.
            let next = reader.text[reader.pos..]
                .find('<')
                .map_or(reader.bytes.len(), |i| reader.pos + i);
            reader.advance_to(next);
            continue;
        }
        roots.push(reader.element(0)?);
    }
    apply_variables(&mut roots)?;
    Ok(roots)
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl Reader<'_> {
    fn error<T>(&self, message: impl Into<String>) -> Result<T, XmlError> {
        Err(XmlError {
            line: self.line,
            message: message.into(),
        })
    }

    fn advance_to(&mut self, to: usize) {
        let to = to.min(self.bytes.len());
        self.line += self.bytes[self.pos..to]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.pos = to;
    }

    fn starts_with(&self, s: &str) -> bool {
        self.bytes[self.pos..].starts_with(s.as_bytes())
    }

    /// Skip whitespace, comments, processing instructions and doctype declarations.
    fn skip_misc(&mut self) -> Result<(), XmlError> {
        loop {
            while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
                self.advance_to(self.pos + 1);
            }
            if self.starts_with("<!--") {
                self.skip_comment()?;
            } else if self.starts_with("<?") {
                match self.text[self.pos..].find("?>") {
                    Some(i) => self.advance_to(self.pos + i + 2),
                    None => return self.error("unterminated <? declaration"),
                }
            } else if self.starts_with("<!") {
                match self.text[self.pos..].find('>') {
                    Some(i) => self.advance_to(self.pos + i + 1),
                    None => return self.error("unterminated <! declaration"),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn skip_comment(&mut self) -> Result<(), XmlError> {
        match self.text[self.pos + 4..].find("-->") {
            Some(i) => {
                self.advance_to(self.pos + 4 + i + 3);
                Ok(())
            }
            None => self.error("unterminated comment"),
        }
    }

    fn name(&mut self) -> Result<String, XmlError> {
        let start = self.pos;
        while self.pos < self.bytes.len() {
            let b = self.bytes[self.pos];
            if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':') {
                self.pos += 1;
            } else {
                break;
            }
        }
        if self.pos == start {
            return self.error("expected a name");
        }
        Ok(self.text[start..self.pos].to_string())
    }

    fn skip_spaces(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.advance_to(self.pos + 1);
        }
    }

    /// Read one element starting at `<`.
    fn element(&mut self, depth: usize) -> Result<Element, XmlError> {
        if depth > MAX_DEPTH {
            return self.error("elements nested too deeply");
        }
        let line = self.line;
        self.pos += 1; // '<'
        let name = self.name()?;
        let mut element = Element {
            name,
            attributes: Vec::new(),
            text: String::new(),
            children: Vec::new(),
            line,
        };
        // Attributes.
        loop {
            self.skip_spaces();
            match self.bytes.get(self.pos) {
                None => return self.error(format!("unterminated tag <{}>", element.name)),
                Some(b'/') => {
                    if self.bytes.get(self.pos + 1) == Some(&b'>') {
                        self.pos += 2;
                        return Ok(element);
                    }
                    return self.error(format!("stray '/' in tag <{}>", element.name));
                }
                Some(b'>') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => {
                    let key = self.name()?;
                    self.skip_spaces();
                    if self.bytes.get(self.pos) != Some(&b'=') {
                        return self.error(format!(
                            "attribute {key:?} of <{}> has no value",
                            element.name
                        ));
                    }
                    self.pos += 1;
                    self.skip_spaces();
                    let quote = match self.bytes.get(self.pos) {
                        Some(&q @ (b'"' | b'\'')) => q,
                        _ => {
                            return self.error(format!(
                                "attribute {key:?} of <{}> is not quoted",
                                element.name
                            ))
                        }
                    };
                    let start = self.pos + 1;
                    let Some(len) = self.bytes[start..].iter().position(|&b| b == quote) else {
                        return self.error(format!("unterminated value of attribute {key:?}"));
                    };
                    let value = self.text[start..start + len].to_string();
                    self.advance_to(start + len + 1);
                    element.attributes.push((key, value));
                }
            }
        }
        // Content: text and children until the matching close tag.
        loop {
            let Some(rel) = self.text[self.pos..].find('<') else {
                return self.error(format!(
                    "<{}> opened on line {line} is never closed",
                    element.name
                ));
            };
            let text_end = self.pos + rel;
            element.text.push_str(&self.text[self.pos..text_end]);
            self.advance_to(text_end);
            let trailing_backslashes = element
                .text
                .bytes()
                .rev()
                .take_while(|&b| b == b'\\')
                .count();
            if trailing_backslashes % 2 == 1 {
                // OSSEC's reader takes `\<` as a literal '<' kept with its backslash, which
                // patterns such as `\<log>\.+\</log>` rely on.
                element.text.push('<');
                self.pos += 1;
            } else if self.starts_with("<!--") {
                self.skip_comment()?;
            } else if self.starts_with("</") {
                self.pos += 2;
                let close = self.name()?;
                self.skip_spaces();
                if self.bytes.get(self.pos) != Some(&b'>') {
                    return self.error(format!("malformed closing tag </{close}"));
                }
                self.pos += 1;
                if close != element.name {
                    return self.error(format!(
                        "</{close}> closes <{}> opened on line {line}",
                        element.name
                    ));
                }
                element.text = trim_xml_text(&element.text);
                return Ok(element);
            } else if self
                .bytes
                .get(self.pos + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            {
                let child = self.element(depth + 1)?;
                element.children.push(child);
            } else {
                // A '<' that starts no tag is text (patterns contain them).
                element.text.push('<');
                self.pos += 1;
            }
        }
    }
}

/// OSSEC's `<var name="NAME">value</var>`: every `$NAME` in text and attribute values of
/// the same file is replaced. A name ends at `$`, `.`, `|`, `,`, a space or the end.
fn apply_variables(roots: &mut [Element]) -> Result<(), XmlError> {
    let vars: Vec<(String, String)> = roots
        .iter()
        .filter(|e| e.name.eq_ignore_ascii_case("var"))
        .filter_map(|e| e.attr("name").map(|n| (n.to_string(), e.text.clone())))
        .collect();
    if vars.is_empty() {
        return Ok(());
    }
    fn substitute(text: &str, vars: &[(String, String)]) -> String {
        if !text.contains('$') || text.len() <= 2 {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let end = after.find(['$', '.', '|', ',', ' ']).unwrap_or(after.len());
            let name = &after[..end];
            match vars
                .iter()
                .find(|(n, _)| !name.is_empty() && n.eq_ignore_ascii_case(name))
            {
                Some((_, value)) => {
                    out.push_str(value);
                    rest = &after[end..];
                }
                None => {
                    // Not a variable (an anchor or an escaped dollar): keep it as written.
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
    fn walk(element: &mut Element, vars: &[(String, String)]) {
        element.text = substitute(&element.text, vars);
        for (_, value) in &mut element.attributes {
            *value = substitute(value, vars);
        }
        for child in &mut element.children {
            walk(child, vars);
        }
    }
    for root in roots
        .iter_mut()
        .filter(|e| !e.name.eq_ignore_ascii_case("var"))
    {
        walk(root, &vars);
    }
    Ok(())
}

/// OSSEC's reader drops the whitespace around the markup (newlines and indentation) but
/// keeps spaces that are part of the content, such as a trailing space in a `<match>`.
fn trim_xml_text(text: &str) -> String {
    let is_layout = |c: char| c == '\n' || c == '\r' || c == '\t';
    let trimmed = text.trim_matches(is_layout);
    // Indentation before a closing tag on its own line is layout too.
    if text.contains('\n') {
        trimmed.trim().to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_many_roots_with_lines_attributes_and_comments() {
        let text = "<!-- head -->\n<group name=\"a,\">\n  <rule id=\"1\" level='2'>\n    <match>x< y</match>\n    <options/>\n  </rule>\n</group>\n<group name=\"b\"/>\n";
        let roots = parse(text).unwrap();
        assert_eq!(roots.len(), 2);
        let rule = &roots[0].children[0];
        assert_eq!(rule.line, 3);
        assert_eq!(rule.attr("LEVEL"), Some("2"));
        assert_eq!(rule.children[0].text, "x< y", "a bare < is text");
        assert_eq!(rule.children[1].name, "options");
    }

    #[test]
    fn substitutes_variables_everywhere_in_the_file() {
        let text = "<var name=\"BAD\">fail|error</var>\n<group name=\"g\"><rule id=\"2\"><match>^$BAD|x$</match></rule></group>";
        let roots = parse(text).unwrap();
        assert_eq!(roots[1].children[0].children[0].text, "^fail|error|x$");
    }

    #[test]
    fn mismatched_close_names_the_line() {
        let err = parse("<a>\n<b>\n</a>").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("closes <b>"), "{}", err.message);
    }

    #[test]
    fn backslash_escapes_a_less_than_in_text() {
        let roots = parse("<decoder name=\"x\"><prematch>\\<log>\\.+\\</log></prematch></decoder>")
            .unwrap();
        assert_eq!(roots[0].children[0].text, "\\<log>\\.+\\</log>");
    }

    #[test]
    fn escaped_backslash_before_close_tag_is_not_an_escape() {
        let roots = parse("<r><field name=\"d\">E:\\\\</field></r>").unwrap();
        assert_eq!(roots[0].children[0].text, "E:\\\\");
    }

    #[test]
    fn hostile_input_does_not_panic() {
        for text in [
            "<",
            "<a",
            "<a b=",
            "<a b='x",
            "<a>",
            "</a>",
            "<!--",
            "<?x",
            "<a><",
            &"<a>".repeat(100),
        ] {
            let _ = parse(text);
        }
    }
}

//! The byte classes of the OSSEC regex dialect, and its case folding.
//!
//! OSSEC folds case with a table that only touches `A`-`Z`; bytes above 127 are left alone, so
//! a UTF-8 `É` never equals `é`. Its classes are ASCII-only too, and some differ from what the
//! same escape means in Perl: `\w` also takes `@` and `-`, `\s` is the space character alone
//! (a tab is `\S`), and `\p` is a fixed list of punctuation that leaves out `/`, `\`, `^`, `_`,
//! `` ` ``, `~` and `@`.

/// The internal code a backslash escape compiles to. The numbers only need to be distinct
/// and never equal to a byte the matcher treats specially (`(`, `\`, `+`, `*`, NUL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Class {
    Digit = 1,
    Word = 2,
    Space = 3,
    Punct = 4,
    OpenParen = 5,
    CloseParen = 6,
    Backslash = 7,
    NotDigit = 8,
    NotWord = 9,
    NotSpace = 10,
    Any = 11,
    Tab = 12,
    Dollar = 13,
    Pipe = 14,
    Less = 15,
}

impl Class {
    /// The class a backslash followed by `c` denotes, or `None` if OSSEC rejects the escape.
    pub(crate) fn from_escape(c: u8) -> Option<Class> {
        Some(match c {
            b'd' => Class::Digit,
            b'w' => Class::Word,
            b's' => Class::Space,
            b'p' => Class::Punct,
            b'(' => Class::OpenParen,
            b')' => Class::CloseParen,
            b'\\' => Class::Backslash,
            b'D' => Class::NotDigit,
            b'W' => Class::NotWord,
            b'S' => Class::NotSpace,
            b'.' => Class::Any,
            b't' => Class::Tab,
            b'$' => Class::Dollar,
            b'|' => Class::Pipe,
            b'<' => Class::Less,
            _ => return None,
        })
    }

    /// The single byte an escape stands for, for the escapes that are really literals.
    pub(crate) fn exact_byte(code: u8) -> Option<u8> {
        Some(match code {
            5 => b'(',
            6 => b')',
            7 => b'\\',
            12 => b'\t',
            13 => b'$',
            14 => b'|',
            15 => b'<',
            _ => return None,
        })
    }
}

const fn is_word(b: u8) -> bool {
    matches!(b, b'-' | b'0'..=b'9' | b'@'..=b'Z' | b'_' | b'a'..=b'z')
}

const fn is_punct(b: u8) -> bool {
    matches!(b, b'!'..=b'.' | b':'..=b'?' | b'[' | b']' | b'{'..=b'}')
}

/// Whether `byte` belongs to the class with internal `code`, computed. An unknown code matches
/// nothing, except code 0 which OSSEC's table treats as `\d` (compilation never produces it).
const fn class_contains(code: u8, byte: u8) -> bool {
    match code {
        0 | 1 => byte.is_ascii_digit(),
        2 => is_word(byte),
        3 => byte == b' ',
        4 => is_punct(byte),
        5 => byte == b'(',
        6 => byte == b')',
        7 => byte == b'\\',
        8 => !byte.is_ascii_digit(),
        9 => !is_word(byte),
        10 => byte != b' ',
        11 => true,
        12 => byte == b'\t',
        13 => byte == b'$',
        14 => byte == b'|',
        15 => byte == b'<',
        _ => false,
    }
}

/// `class_contains` for every code and byte, so the walk's test is a single load.
static CLASS_TABLE: [[bool; 256]; 16] = {
    let mut table = [[false; 256]; 16];
    let mut code = 0;
    while code < 16 {
        let mut byte = 0;
        while byte < 256 {
            table[code][byte] = class_contains(code as u8, byte as u8);
            byte += 1;
        }
        code += 1;
    }
    table
};

/// Whether `byte` belongs to the class with internal `code`.
#[inline]
pub(crate) fn class_matches(code: u8, byte: u8) -> bool {
    CLASS_TABLE
        .get(usize::from(code))
        .is_some_and(|row| row[usize::from(byte)])
}

/// OSSEC's case folding: ASCII upper case to lower case, every other byte unchanged.
#[inline]
pub(crate) fn fold(b: u8) -> u8 {
    b.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_class_includes_at_and_dash_but_not_dot() {
        for b in [b'a', b'Z', b'0', b'_', b'-', b'@'] {
            assert!(class_matches(Class::Word as u8, b), "{}", b as char);
            assert!(!class_matches(Class::NotWord as u8, b));
        }
        for b in [b'.', b' ', b'/', b'[', 0xC3] {
            assert!(!class_matches(Class::Word as u8, b));
            assert!(class_matches(Class::NotWord as u8, b));
        }
    }

    #[test]
    fn space_class_is_only_the_space_character() {
        assert!(class_matches(Class::Space as u8, b' '));
        assert!(!class_matches(Class::Space as u8, b'\t'));
        assert!(class_matches(Class::NotSpace as u8, b'\t'));
    }

    #[test]
    fn table_agrees_with_the_definitions() {
        for code in 0..=20u8 {
            for byte in 0..=255u8 {
                assert_eq!(class_matches(code, byte), class_contains(code, byte));
            }
        }
    }

    #[test]
    fn punct_class_is_ossecs_list() {
        let punct: Vec<u8> = (0u8..=255).filter(|&b| class_matches(4, b)).collect();
        assert_eq!(punct, b"!\"#$%&'()*+,-.:;<=>?[]{|}".to_vec());
    }
}

//! Prose as Markdown: bold, italic and inline code from the fonts of its words, and
//! escaping — a backslash only where a character would otherwise change the rendering.
//!
//! Emphasis marks runs of words whose style differs from the block's: a paragraph set
//! wholly in italics gets no marks, a bold term in it gets `**…**`, a word in a
//! fixed-pitch font inside prose becomes `` `code` ``.
//!
//! Text from documents is full of characters Markdown gives meaning to: identifiers such as
//! `_mm_shuffle_epi32`, operators like `%*%`, `a<b>` in a sentence, `[1](2)` in a formula.
//! Escaping all of them makes the Markdown hard to read and breaks words apart for tools
//! that read it as text, so only what can actually pair up or open something is escaped
//! (CommonMark's rules: emphasis needs a flanking opener and closer, `_` never works inside
//! a word, `<` opens HTML only before a letter, `/`, `!` or `?`).

use super::classify::join_prose_text;
use super::lines::{TextLine, BOLD, ITALIC, MONO, SUB_CLOSE, SUB_OPEN, SUP_CLOSE, SUP_OPEN};

/// `text` with the characters escaped that would make Markdown emphasis, code spans,
/// links, HTML or entities out of plain text.
pub fn escape_inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at =
        |i: isize| -> Option<char> { usize::try_from(i).ok().and_then(|i| chars.get(i).copied()) };
    let flanking = |i: usize| {
        let before = at(i as isize - 1).is_some_and(|c| !c.is_whitespace());
        let after = at(i as isize + 1).is_some_and(|c| !c.is_whitespace());
        before || after
    };
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    // `_` can open or close only at a word's edge, never inside it.
    let underscore_edge =
        |i: usize| flanking(i) && !(word(at(i as isize - 1)) && word(at(i as isize + 1)));
    let stars = (0..chars.len())
        .filter(|&i| chars[i] == '*' && flanking(i))
        .count();
    let underscores = (0..chars.len())
        .filter(|&i| chars[i] == '_' && underscore_edge(i))
        .count();
    let backticks = chars.iter().filter(|&&c| c == '`').count();
    let link = text.contains("](") || text.contains("][");
    let mut out = String::with_capacity(text.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        let next = at(i as isize + 1);
        let escape = match c {
            '\\' => next.is_some_and(|n| n.is_ascii_punctuation()),
            '*' => stars >= 2 && flanking(i),
            '_' => underscores >= 2 && underscore_edge(i),
            '`' => backticks >= 2,
            '[' | ']' => link,
            '<' => next.is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, '/' | '!' | '?')),
            '&' => {
                // `&name;` and `&#123;` are entities.
                let run = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '#')
                    .count();
                (1..=32).contains(&run) && chars.get(i + 1 + run) == Some(&';')
            }
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `prose` (the block's text, [`join_prose`](super::classify::join_prose) of `lines`) with
/// Markdown emphasis and inline code from its words' styles, escaped; `None` when no word
/// stands out (the writer escapes the plain text then) or the words cannot be matched.
pub fn styled_prose(lines: &[TextLine], prose: &str) -> Option<String> {
    // The words in the order join_prose writes them: a line ending in a hyphen (soft or
    // hard) runs into the next line's first word.
    let mut styles: Vec<u8> = Vec::new();
    let mut ends_joined = false;
    for l in lines {
        let text = l.text.trim();
        if text.is_empty() {
            continue;
        }
        let lead = l.text.len() - l.text.trim_start().len();
        // Words of the trimmed text: skip the styles of leading empty words.
        let skip = l.text[..lead].matches(' ').count();
        let words = l
            .word_styles
            .iter()
            .skip(skip)
            .take(text.split(' ').count());
        for (i, &s) in words.enumerate() {
            if i == 0 && ends_joined {
                continue; // joined onto the previous word, whose style it keeps
            }
            styles.push(s);
        }
        ends_joined = text.ends_with(['-', '\u{AD}']);
    }
    // Superscripts and subscripts, when a line has them: the same words, marked.
    let scripted = lines
        .iter()
        .any(|l| l.scripts.is_some())
        .then(|| {
            join_prose_text(
                lines
                    .iter()
                    .map(|l| l.scripts.as_deref().unwrap_or(&l.text)),
            )
        })
        .filter(|r| r.split(' ').count() == prose.split(' ').count());
    let base = scripted.as_deref().unwrap_or(prose);
    let raw: Vec<&str> = base.split(' ').collect();
    if raw.len() != styles.len() || (scripted.is_none() && !styles.iter().any(|&s| s != 0)) {
        return None;
    }
    // A style most of the block has is the block's, not emphasis.
    let letters = |w: &str| w.chars().filter(|c| c.is_alphanumeric()).count();
    let total: usize = raw.iter().map(|w| letters(w)).sum();
    let mut own = 0u8;
    for bit in [BOLD, ITALIC, MONO] {
        let n: usize = raw
            .iter()
            .zip(&styles)
            .filter(|(_, &s)| s & bit != 0)
            .map(|(w, _)| letters(w))
            .sum();
        if n * 2 > total {
            own |= bit;
        }
    }
    let escaped = escape_inline(base);
    let esc: Vec<&str> = escaped.split(' ').collect();
    if esc.len() != raw.len() {
        return None;
    }
    let mark = |s: u8, word: &str| -> &'static str {
        let s = s & !own;
        if letters(word) == 0 {
            return "";
        }
        if s & MONO != 0 && !word.contains('`') {
            "`"
        } else {
            match s & (BOLD | ITALIC) {
                BOLD => "**",
                ITALIC => "*",
                x if x == BOLD | ITALIC => "***",
                _ => "",
            }
        }
    };
    let marks: Vec<&str> = raw.iter().zip(&styles).map(|(w, &s)| mark(s, w)).collect();
    if scripted.is_none() && marks.iter().all(|m| m.is_empty()) {
        return None;
    }
    let mut out = String::with_capacity(escaped.len() + 16);
    let mut i = 0;
    while i < raw.len() {
        if i > 0 {
            out.push(' ');
        }
        let m = marks[i];
        if m.is_empty() {
            out.push_str(esc[i]);
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < raw.len() && marks[j + 1] == m {
            j += 1;
        }
        out.push_str(m);
        let code = m == "`";
        // Punctuation ending a code run is the sentence's (`TRUE`,): most of the word's
        // glyphs decide its style, the comma's own is lost. (Emphasis keeps it: a bold
        // `Figure 7-26.` is bold to its period, and either way reads the same.)
        let last = if code { raw[j] } else { esc[j] };
        let core = if code {
            last.trim_end_matches([',', '.', ';', ':', '!', '?'])
        } else {
            last
        };
        let core = if core.is_empty() || core.ends_with('\\') {
            last
        } else {
            core
        };
        for k in i..=j {
            if k > i {
                out.push(' ');
            }
            if k == j {
                out.push_str(core);
            } else {
                out.push_str(if code { raw[k] } else { esc[k] });
            }
        }
        out.push_str(m);
        out.push_str(&last[core.len()..]);
        i = j + 1;
    }
    if scripted.is_some() {
        out = scripts_as_markdown(&out);
    }
    Some(out)
}

/// Digits, signs and a few letters have superscript and subscript characters of their own.
const SUPERSCRIPTS: [(char, char); 18] = [
    ('0', '⁰'),
    ('1', '¹'),
    ('2', '²'),
    ('3', '³'),
    ('4', '⁴'),
    ('5', '⁵'),
    ('6', '⁶'),
    ('7', '⁷'),
    ('8', '⁸'),
    ('9', '⁹'),
    ('+', '⁺'),
    ('-', '⁻'),
    ('−', '⁻'),
    ('=', '⁼'),
    ('(', '⁽'),
    (')', '⁾'),
    ('n', 'ⁿ'),
    ('i', 'ⁱ'),
];
const SUBSCRIPTS: [(char, char); 20] = [
    ('0', '₀'),
    ('1', '₁'),
    ('2', '₂'),
    ('3', '₃'),
    ('4', '₄'),
    ('5', '₅'),
    ('6', '₆'),
    ('7', '₇'),
    ('8', '₈'),
    ('9', '₉'),
    ('+', '₊'),
    ('-', '₋'),
    ('−', '₋'),
    ('=', '₌'),
    ('(', '₍'),
    (')', '₎'),
    ('a', 'ₐ'),
    ('e', 'ₑ'),
    ('o', 'ₒ'),
    ('x', 'ₓ'),
];

/// The superscript characters of `text` (`2³¹`, a footnote mark `³`), if every character
/// has one.
pub fn superscript(text: &str) -> Option<String> {
    text.chars()
        .map(|c| SUPERSCRIPTS.iter().find(|(p, _)| *p == c).map(|(_, s)| *s))
        .collect()
}

/// The digits and signs a run of superscript characters stands for (`³¹` → `31`).
pub fn from_superscript(text: &str) -> String {
    text.chars()
        .map(|c| {
            SUPERSCRIPTS
                .iter()
                .find(|(_, s)| *s == c)
                .map_or(c, |(p, _)| *p)
        })
        .collect()
}

/// Whether `c` is one of the superscript characters [`superscript`] writes.
pub fn is_superscript(c: char) -> bool {
    SUPERSCRIPTS.iter().any(|(_, s)| *s == c)
}

/// Superscript and subscript runs between the line builder's marks as Markdown: their
/// own characters where every character has one (they read as text and search as
/// digits: `2³¹`, `x₁`), `<sup>`/`<sub>` otherwise.
fn scripts_as_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(at) = rest.find([SUP_OPEN, SUB_OPEN]) {
        out.push_str(&rest[..at]);
        let sup = rest[at..].starts_with(SUP_OPEN);
        let (open_len, close) = (SUP_OPEN.len_utf8(), if sup { SUP_CLOSE } else { SUB_CLOSE });
        let inner_start = at + open_len;
        let end = rest[inner_start..]
            .find(close)
            .map_or(rest.len(), |e| inner_start + e);
        let inner = &rest[inner_start..end];
        let table: &[(char, char)] = if sup { &SUPERSCRIPTS } else { &SUBSCRIPTS };
        let own: Option<String> = inner
            .chars()
            .map(|c| table.iter().find(|(p, _)| *p == c).map(|(_, s)| *s))
            .collect();
        match own.filter(|o| !o.is_empty()) {
            Some(o) => out.push_str(&o),
            None if sup => {
                out.push_str("<sup>");
                out.push_str(inner);
                out.push_str("</sup>");
            }
            None => {
                out.push_str("<sub>");
                out.push_str(inner);
                out.push_str("</sub>");
            }
        }
        rest = rest.get(end + close.len_utf8()..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, styles: &[u8]) -> TextLine {
        TextLine {
            word_styles: styles.to_vec(),
            ..super::super::lines::plain_line(text)
        }
    }

    #[test]
    fn emphasis_and_code_from_word_styles() {
        let lines = [
            line(
                "Call the _mm_add function, a very",
                &[0, 0, MONO, 0, 0, ITALIC],
            ),
            line(
                "important one, with care.",
                &[ITALIC, 0, BOLD, BOLD | ITALIC],
            ),
        ];
        let prose = "Call the _mm_add function, a very important one, with care.";
        assert_eq!(
            styled_prose(&lines, prose).as_deref(),
            Some("Call the `_mm_add` function, a *very important* one, **with** ***care.***")
        );
        // A paragraph all in italics has no marks; a hyphenated word joins its halves.
        let all = [
            line("all in ital-", &[ITALIC; 3]),
            line("ics here", &[ITALIC; 2]),
        ];
        assert_eq!(styled_prose(&all, "all in italics here"), None);
        let split = [
            line("a bold ex-", &[0, BOLD, BOLD]),
            line("ample and more words", &[BOLD, 0, 0, 0]),
        ];
        assert_eq!(
            styled_prose(&split, "a bold example and more words").as_deref(),
            Some("a **bold example** and more words")
        );
    }

    #[test]
    fn identifiers_and_lone_stars_stay_as_they_are() {
        for t in [
            "call _mm_shuffle_epi32 here",
            "snake_case_name",
            "a * b",
            "x %*% y",
            "2*x",
            "x <- c(1, 2)",
            "if a < b and c > d",
            "R&D and AT&T",
            "C:\\Users\\me",
        ] {
            assert_eq!(escape_inline(t), t, "{t}");
        }
    }

    #[test]
    fn what_would_render_is_escaped() {
        assert_eq!(
            escape_inline("_mm_shuffle_epi32 and _mm_add_epi8"),
            "\\_mm_shuffle_epi32 and \\_mm_add_epi8"
        );
        assert_eq!(escape_inline("2*x + 3*y"), "2\\*x + 3\\*y");
        assert_eq!(escape_inline("use `ls` here"), "use \\`ls\\` here");
        assert_eq!(escape_inline("see [1](2)"), "see \\[1\\](2)");
        assert_eq!(escape_inline("a <div> tag"), "a \\<div> tag");
        assert_eq!(escape_inline("&amp; sign"), "\\&amp; sign");
        assert_eq!(escape_inline("a \\* b"), "a \\\\* b");
    }
}

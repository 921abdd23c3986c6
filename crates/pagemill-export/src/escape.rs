//! Markdown escaping of prose: a backslash only where a character would otherwise change
//! the rendering.
//!
//! Text from documents is full of characters Markdown gives meaning to: identifiers such as
//! `_mm_shuffle_epi32`, operators like `%*%`, `a<b>` in a sentence, `[1](2)` in a formula.
//! Escaping all of them makes the Markdown hard to read and breaks words apart for tools
//! that read it as text, so only what can actually pair up or open something is escaped
//! (CommonMark's rules: emphasis needs a flanking opener and closer, `_` never works inside
//! a word, `<` opens HTML only before a letter, `/`, `!` or `?`).

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

#[cfg(test)]
mod tests {
    use super::*;

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

//! PDF objects: a parser over a byte window and a writer.
//!
//! Only what the page-tree reader needs: every object type, indirect references, and
//! `Incomplete` when an object runs past the window (the caller reads more and retries).

use std::fmt::Write as _;

/// Nesting limit for arrays and dictionaries (a hostile file may nest without end).
const MAX_DEPTH: usize = 64;

/// A PDF object. Streams are returned as their dictionary plus where the data starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Obj {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A real number.
    Real(f64),
    /// A name, without the slash, `#xx` escapes decoded.
    Name(Vec<u8>),
    /// A string's bytes (literal or hex).
    Str(Vec<u8>),
    /// An array.
    Array(Vec<Obj>),
    /// A dictionary.
    Dict(Dict),
    /// An indirect reference `num gen R`.
    Ref(u32, u16),
}

impl Obj {
    /// The dictionary, if this is one.
    pub fn as_dict(&self) -> Option<&Dict> {
        match self {
            Obj::Dict(d) => Some(d),
            _ => None,
        }
    }
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Obj::Int(i) => Some(*i),
            _ => None,
        }
    }
    /// The reference, if this is one.
    pub fn as_ref(&self) -> Option<(u32, u16)> {
        match self {
            Obj::Ref(n, g) => Some((*n, *g)),
            _ => None,
        }
    }
    /// Whether this is the name `n`.
    pub fn is_name(&self, n: &[u8]) -> bool {
        matches!(self, Obj::Name(v) if v == n)
    }
}

/// A dictionary in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dict(pub Vec<(Vec<u8>, Obj)>);

impl Dict {
    /// The value for `key`, if present.
    pub fn get(&self, key: &[u8]) -> Option<&Obj> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
    /// Sets `key` (replacing any earlier value).
    pub fn set(&mut self, key: &[u8], value: Obj) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key.to_vec(), value)),
        }
    }
}

/// Why parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The window ended inside the object; read more and retry.
    Incomplete,
    /// Not a valid object: what was expected, and where.
    Invalid(&'static str, usize),
}

/// A cursor over a window of the file (or of a decoded object stream).
pub struct Lexer<'a> {
    buf: &'a [u8],
    /// Position in `buf`.
    pub pos: usize,
}

fn is_space(c: u8) -> bool {
    matches!(c, b'\0' | b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

fn is_delim(c: u8) -> bool {
    matches!(
        c,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

fn is_regular(c: u8) -> bool {
    !is_space(c) && !is_delim(c)
}

impl<'a> Lexer<'a> {
    /// A cursor at `pos` in `buf`.
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        Lexer { buf, pos }
    }

    /// Skips whitespace and comments.
    pub fn skip_space(&mut self) {
        while let Some(&c) = self.buf.get(self.pos) {
            if is_space(c) {
                self.pos += 1;
            } else if c == b'%' {
                while self
                    .buf
                    .get(self.pos)
                    .is_some_and(|&c| c != b'\n' && c != b'\r')
                {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    /// The next run of regular characters (a keyword or number), after whitespace.
    pub fn token(&mut self) -> Result<&'a [u8], ParseError> {
        self.skip_space();
        let start = self.pos;
        while self.buf.get(self.pos).is_some_and(|&c| is_regular(c)) {
            self.pos += 1;
        }
        if self.pos == self.buf.len() {
            // A token touching the end of the window may go on beyond it.
            return Err(ParseError::Incomplete);
        }
        Ok(&self.buf[start..self.pos])
    }

    /// The next token as an unsigned integer.
    pub fn uint(&mut self) -> Result<u64, ParseError> {
        let at = self.pos;
        let t = self.token()?;
        parse_uint(t).ok_or(ParseError::Invalid("an integer", at))
    }

    /// Expects the keyword `kw`.
    pub fn expect(&mut self, kw: &[u8]) -> Result<(), ParseError> {
        let at = self.pos;
        if self.token()? == kw {
            Ok(())
        } else {
            Err(ParseError::Invalid("a keyword", at))
        }
    }

    /// Skips the end of line after the `stream` keyword; returns where the data starts.
    pub fn stream_data_start(&mut self) -> usize {
        if self.buf.get(self.pos) == Some(&b'\r') {
            self.pos += 1;
        }
        if self.buf.get(self.pos) == Some(&b'\n') {
            self.pos += 1;
        }
        self.pos
    }

    /// Parses one object.
    pub fn object(&mut self) -> Result<Obj, ParseError> {
        self.object_at_depth(0)
    }

    fn object_at_depth(&mut self, depth: usize) -> Result<Obj, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::Invalid("less deeply nested objects", self.pos));
        }
        self.skip_space();
        let at = self.pos;
        let c = *self.buf.get(self.pos).ok_or(ParseError::Incomplete)?;
        match c {
            b'<' if self.buf.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let mut d = Dict::default();
                loop {
                    self.skip_space();
                    match self.buf.get(self.pos) {
                        None => return Err(ParseError::Incomplete),
                        Some(b'>') => {
                            self.pos += 1;
                            match self.buf.get(self.pos) {
                                None => return Err(ParseError::Incomplete),
                                Some(b'>') => {
                                    self.pos += 1;
                                    return Ok(Obj::Dict(d));
                                }
                                Some(_) => return Err(ParseError::Invalid(">>", self.pos)),
                            }
                        }
                        Some(_) => {
                            let key = match self.object_at_depth(depth + 1)? {
                                Obj::Name(k) => k,
                                _ => return Err(ParseError::Invalid("a name key", self.pos)),
                            };
                            let value = self.object_at_depth(depth + 1)?;
                            d.0.push((key, value));
                        }
                    }
                }
            }
            b'<' => {
                self.pos += 1;
                let mut bytes = Vec::new();
                let mut half: Option<u8> = None;
                loop {
                    let c = *self.buf.get(self.pos).ok_or(ParseError::Incomplete)?;
                    self.pos += 1;
                    let v = match c {
                        b'>' => break,
                        b'0'..=b'9' => c - b'0',
                        b'a'..=b'f' => c - b'a' + 10,
                        b'A'..=b'F' => c - b'A' + 10,
                        c if is_space(c) => continue,
                        _ => return Err(ParseError::Invalid("a hex digit", self.pos - 1)),
                    };
                    match half.take() {
                        Some(h) => bytes.push(h << 4 | v),
                        None => half = Some(v),
                    }
                }
                if let Some(h) = half {
                    bytes.push(h << 4);
                }
                Ok(Obj::Str(bytes))
            }
            b'(' => self.literal_string().map(Obj::Str),
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    match self.buf.get(self.pos) {
                        None => return Err(ParseError::Incomplete),
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Obj::Array(items));
                        }
                        Some(_) => items.push(self.object_at_depth(depth + 1)?),
                    }
                }
            }
            b'/' => {
                self.pos += 1;
                let start = self.pos;
                while self.buf.get(self.pos).is_some_and(|&c| is_regular(c)) {
                    self.pos += 1;
                }
                if self.pos == self.buf.len() {
                    return Err(ParseError::Incomplete);
                }
                Ok(Obj::Name(decode_name(&self.buf[start..self.pos])))
            }
            _ if is_regular(c) => {
                let t = self.token()?;
                match t {
                    b"true" => return Ok(Obj::Bool(true)),
                    b"false" => return Ok(Obj::Bool(false)),
                    b"null" => return Ok(Obj::Null),
                    _ => {}
                }
                if let Some(n) = parse_uint(t) {
                    // `num gen R` is a reference; look ahead without committing.
                    let save = self.pos;
                    if let (Ok(n), Some(Ok(g))) = (
                        u32::try_from(n),
                        self.token().ok().map(|t| parse_uint(t).ok_or(())),
                    ) {
                        if self.token().ok() == Some(b"R") && g <= u64::from(u16::MAX) {
                            return Ok(Obj::Ref(n, g as u16));
                        }
                    }
                    self.pos = save;
                    return Ok(Obj::Int(n as i64));
                }
                let s = std::str::from_utf8(t).map_err(|_| ParseError::Invalid("a number", at))?;
                if let Ok(i) = s.parse::<i64>() {
                    Ok(Obj::Int(i))
                } else if let Ok(f) = s.parse::<f64>() {
                    Ok(Obj::Real(f))
                } else {
                    Err(ParseError::Invalid("an object", at))
                }
            }
            _ => Err(ParseError::Invalid("an object", at)),
        }
    }

    fn literal_string(&mut self) -> Result<Vec<u8>, ParseError> {
        self.pos += 1;
        let mut out = Vec::new();
        let mut nesting = 0usize;
        loop {
            let c = *self.buf.get(self.pos).ok_or(ParseError::Incomplete)?;
            self.pos += 1;
            match c {
                b'(' => {
                    nesting += 1;
                    out.push(c);
                }
                b')' if nesting == 0 => return Ok(out),
                b')' => {
                    nesting -= 1;
                    out.push(c);
                }
                b'\\' => {
                    let e = *self.buf.get(self.pos).ok_or(ParseError::Incomplete)?;
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'\r' => {
                            if self.buf.get(self.pos) == Some(&b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        b'0'..=b'7' => {
                            let mut v = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.buf.get(self.pos) {
                                    Some(&d @ b'0'..=b'7') => {
                                        v = v * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push(v as u8);
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(c),
            }
        }
    }
}

fn parse_uint(t: &[u8]) -> Option<u64> {
    if t.is_empty() || t.len() > 19 || !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(t).ok()?.parse().ok()
}

fn decode_name(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'#' && i + 2 < raw.len() {
            let hex = std::str::from_utf8(&raw[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// Writes `obj` in PDF syntax (strings as hex, names escaped).
pub fn write_obj(obj: &Obj, out: &mut String) {
    match obj {
        Obj::Null => out.push_str("null"),
        Obj::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Obj::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Obj::Real(f) => {
            let _ = write!(out, "{}", if f.is_finite() { *f } else { 0.0 });
        }
        Obj::Name(n) => write_name(n, out),
        Obj::Str(s) => {
            out.push('<');
            for b in s {
                let _ = write!(out, "{b:02x}");
            }
            out.push('>');
        }
        Obj::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_obj(v, out);
            }
            out.push(']');
        }
        Obj::Dict(d) => {
            out.push_str("<<");
            for (k, v) in &d.0 {
                write_name(k, out);
                out.push(' ');
                write_obj(v, out);
            }
            out.push_str(">>");
        }
        Obj::Ref(n, g) => {
            let _ = write!(out, "{n} {g} R");
        }
    }
}

fn write_name(n: &[u8], out: &mut String) {
    out.push('/');
    for &b in n {
        if b.is_ascii_graphic() && is_regular(b) && b != b'#' {
            out.push(b as char);
        } else {
            let _ = write!(out, "#{b:02x}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Obj, ParseError> {
        Lexer::new(s.as_bytes(), 0).object()
    }

    #[test]
    fn parses_every_kind_of_object() {
        let o = parse("<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /A#20b (x\\(y\\)\\101) /H <414> /R -1.5 /N null /T true >> ").unwrap();
        let d = o.as_dict().unwrap();
        assert!(d.get(b"Type").unwrap().is_name(b"Pages"));
        assert_eq!(
            d.get(b"Kids"),
            Some(&Obj::Array(vec![Obj::Ref(3, 0), Obj::Ref(4, 0)]))
        );
        assert_eq!(d.get(b"Count"), Some(&Obj::Int(2)));
        assert_eq!(d.get(b"A b"), Some(&Obj::Str(b"x(y)A".to_vec())));
        assert_eq!(d.get(b"H"), Some(&Obj::Str(b"A@".to_vec())));
        assert_eq!(d.get(b"R"), Some(&Obj::Real(-1.5)));
        assert_eq!(d.get(b"N"), Some(&Obj::Null));
        assert_eq!(d.get(b"T"), Some(&Obj::Bool(true)));
    }

    #[test]
    fn integers_are_not_references_without_r() {
        assert_eq!(
            parse("[1 2 3] ").unwrap(),
            Obj::Array(vec![Obj::Int(1), Obj::Int(2), Obj::Int(3)])
        );
    }

    #[test]
    fn truncated_objects_ask_for_more() {
        assert_eq!(parse("<< /Kids [1 0 R"), Err(ParseError::Incomplete));
        assert_eq!(parse("(abc"), Err(ParseError::Incomplete));
        assert!(matches!(parse(">> "), Err(ParseError::Invalid(..))));
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(200) + &"]".repeat(200) + " ";
        assert!(matches!(parse(&deep), Err(ParseError::Invalid(..))));
    }

    #[test]
    fn writes_what_it_reads() {
        let src = "<</Type /Catalog /Pages 2 0 R /Names [<41> 1.5 /a#2fb]>>";
        let o = parse(&format!("{src} ")).unwrap();
        let mut s = String::new();
        write_obj(&o, &mut s);
        assert_eq!(parse(&format!("{s} ")).unwrap(), o);
    }
}

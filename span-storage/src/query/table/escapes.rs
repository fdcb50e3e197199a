//! Terminal escape sequences, as wcwidth 0.9.5's C extension (which the peer's prettytable
//! measures with) reads them: which characters a sequence spans and where it leaves the
//! cursor.

/// The escape character, which starts a sequence.
pub(super) const ESC: char = '\x1b';

/// The column a cursor-moving escape sequence can move the cursor to, at most, unless text
/// already reached further. wcwidth has no limit; no terminal is this wide.
pub(super) const CURSOR_LIMIT: i64 = 1 << 16;

/// C0 and C1 control characters that wcwidth measures as width 0 without moving the cursor
/// (besides ESC, which starts a sequence, and BS, TAB, CR, which move it).
pub(super) fn is_still_control(c: char) -> bool {
    let cp = u32::from(c);
    (cp < 0x20 && !matches!(c, '\x08' | '\t' | '\r' | ESC)) || (0x7F..0xA0).contains(&cp)
}

/// What an escape sequence does to the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cursor {
    /// Nothing: colours, titles, hyperlinks and the like.
    Stay,
    /// `CSI n C`.
    Forward(i64),
    /// `CSI n D`.
    Backward(i64),
    /// `CSI n G`: to column n (1-based).
    Column(i64),
    /// kitty's text sizing, `OSC 66 ; params ; text`: the text at `text` (character positions
    /// in the sequence) shown over `scale * width` columns, or `scale` times its own width
    /// when `width` is 0 (the measuring is the caller's, which knows widths).
    Sized {
        scale: i64,
        width: i64,
        text: (usize, usize),
    },
}

/// The escape sequence starting at `chars[0]` (an ESC): its length in characters and its
/// effect, or `None` when no sequence starts there (then only the ESC itself is skipped).
/// The grammar is wcwidth's: CSI, OSC/APC/DCS/PM strings ended by BEL or `ESC \`, character
/// set designations, nF sequences, and two-character Fe/Fp/Fs sequences, tried in that order.
pub(super) fn escape_sequence(chars: &[char]) -> Option<(usize, Cursor)> {
    let next = *chars.get(1)?;
    let in_range = |c: char, lo: u8, hi: u8| (char::from(lo)..=char::from(hi)).contains(&c);
    if next == '[' {
        if let Some(found) = csi(chars) {
            return Some(found);
        }
    }
    if matches!(next, ']' | '_' | 'P' | '^') {
        // The body may hold anything but BEL and ESC; it ends with BEL or ESC '\'.
        let mut i = 2;
        while let Some(&c) = chars.get(i) {
            let len = match c {
                '\x07' => i + 1,
                ESC if chars.get(i + 1) == Some(&'\\') => i + 2,
                ESC => break,
                _ => {
                    i += 1;
                    continue;
                }
            };
            let body = chars.get(2..i).unwrap_or_default();
            let cursor = if next == ']' {
                text_sizing(body, 2).unwrap_or(Cursor::Stay)
            } else {
                Cursor::Stay
            };
            return Some((len, cursor));
        }
    }
    if matches!(next, '(' | ')') && chars.len() > 2 {
        return Some((3, Cursor::Stay));
    }
    if in_range(next, 0x20, 0x2F) {
        let mut i = 2;
        while chars.get(i).is_some_and(|&c| in_range(c, 0x20, 0x2F)) {
            i += 1;
        }
        if chars.get(i).is_some_and(|&c| in_range(c, 0x30, 0x7E)) {
            return Some((i + 1, Cursor::Stay));
        }
    }
    // Fe (0x40-0x5F), Fp (0x30-0x3F) and Fs (0x60-0x7E): ESC and one more character.
    in_range(next, 0x30, 0x7E).then_some((2, Cursor::Stay))
}

/// kitty's text sizing, when the body of an OSC sequence (at `offset` in the sequence) is
/// `66;params[;text]`: `params` are `key=value` pairs separated by `:`, of which the scale `s`
/// (1 to 7, default 1) and the width `w` (0 to 7, default 0) count. The text takes `s * w`
/// columns, or `s` times its own width if `w` is 0.
fn text_sizing(body: &[char], offset: usize) -> Option<Cursor> {
    let rest = body.strip_prefix(&['6', '6', ';'])?;
    let (params, text_start) = match rest.iter().position(|&c| c == ';') {
        Some(semicolon) => (rest.get(..semicolon)?, 3 + semicolon + 1),
        None => (rest, body.len()),
    };
    let params: String = params.iter().collect();
    let (mut scale, mut width) = (1i64, 0i64);
    for pair in params.split(':') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        // An unknown key or a value that is not a number is ignored, as wcwidth does.
        let Some(value) = parse_count(value) else {
            continue;
        };
        match key {
            "s" => scale = value.clamp(1, 7),
            "w" => width = value.clamp(0, 7),
            _ => {}
        }
    }
    let text = (offset + text_start.min(body.len()), offset + body.len());
    Some(Cursor::Sized { scale, width, text })
}

/// A text sizing value as wcwidth's C extension reads it: an optional sign and ASCII
/// digits, nothing else; too large a number saturates (it is clamped to 7 anyway).
fn parse_count(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = digits.bytes().fold(0i64, |n, b| {
        n.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    Some(if negative { -value } else { value })
}

/// A CSI sequence, `ESC [ params intermediates final`, at the start of `chars`.
fn csi(chars: &[char]) -> Option<(usize, Cursor)> {
    let in_range = |c: char, lo: u8, hi: u8| (char::from(lo)..=char::from(hi)).contains(&c);
    let params_end = 2 + chars
        .iter()
        .skip(2)
        .take_while(|&&c| in_range(c, 0x30, 0x3F))
        .count();
    let inter_end = params_end
        + chars
            .iter()
            .skip(params_end)
            .take_while(|&&c| in_range(c, 0x20, 0x2F))
            .count();
    let last = *chars.get(inter_end)?;
    if !in_range(last, 0x40, 0x7E) {
        return None;
    }
    // wcwidth's C extension moves the cursor for any C, D or G sequence without intermediate
    // bytes, by the count its parameters start with (1 if they do not start with a digit):
    // `CSI 5;3 C` moves 5 columns, `CSI ?5 C` one. (Its pure Python version would only move
    // for digits alone; the peer runs the C extension.)
    let digits: Vec<u32> = chars
        .get(2..params_end)
        .unwrap_or_default()
        .iter()
        .map_while(|c| c.to_digit(10))
        .collect();
    // A count too large for any screen is cut to the limit.
    let count = if digits.is_empty() {
        1
    } else {
        digits.iter().fold(0i64, |n, &d| {
            n.saturating_mul(10)
                .saturating_add(i64::from(d))
                .min(CURSOR_LIMIT)
        })
    };
    let plain = inter_end == params_end;
    let cursor = match last {
        'C' if plain => Cursor::Forward(count),
        'D' if plain => Cursor::Backward(count),
        'G' if plain => Cursor::Column(count),
        _ => Cursor::Stay,
    };
    Some((inter_end + 1, cursor))
}

/// Whether wcwidth would follow the cursor through `chars`: they hold a backspace, tab or
/// carriage return, an escape sequence that moves the cursor, or the start of a text sizing
/// sequence (wcwidth's C extension looks for `ESC ]66;`, whether the sequence ends or not).
pub(super) fn moves_cursor(chars: &[char]) -> bool {
    chars.iter().enumerate().any(|(i, &c)| match c {
        '\x08' | '\t' | '\r' => true,
        ESC => {
            let rest = chars.get(i..).unwrap_or_default();
            rest.starts_with(&[ESC, ']', '6', '6', ';'])
                || escape_sequence(rest).is_some_and(|(_, cursor)| cursor != Cursor::Stay)
        }
        _ => false,
    })
}

/// `chars` without escape sequences and control characters, as wcwidth strips them before
/// measuring a long string that does not move the cursor.
pub(super) fn strip_controls(chars: &[char]) -> Vec<char> {
    let is_control = |c: char| c == ESC || is_still_control(c) || matches!(c, '\x08' | '\t' | '\r');
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        if c == ESC {
            // Text sizing sequences never get here: they make the caller follow the cursor.
            if let Some((len, _)) = chars.get(i..).and_then(escape_sequence) {
                i += len;
                continue;
            }
        }
        if !is_control(c) {
            out.push(c);
        }
        i += 1;
    }
    out
}

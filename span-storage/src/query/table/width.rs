//! Display width as the `wcwidth` package (0.9.5) measures it with `wcwidth.width(text)`, the
//! function prettytable sizes and pads columns with, and `wcwidth.center`.
//!
//! `wcwidth.width` is more than a sum of character widths: it follows the cursor through
//! control characters (a tab moves to the next multiple of 8, a backspace moves back one, a
//! carriage return goes back to column 0, and the width is the rightmost column reached),
//! skips terminal escape sequences (and follows the cursor-moving ones), and joins some
//! characters into one cell cluster (ZWJ sequences, a variation selector after its base,
//! pairs of regional indicators, skin tone modifiers, virama conjuncts, spacing marks).
//! This module follows the same steps, with character widths from the `unicode-width`
//! crate, corrected where wcwidth's own tables say otherwise.
//!
//! wcwidth's C extension, which the peer's wcwidth uses, counts columns in a 32-bit integer
//! and saturates at 2^31 - 1; here a cursor movement moves right at most to column
//! [`CURSOR_LIMIT`] (unless text already went further), so that a short cell cannot ask for
//! gigabytes of padding. That is the one difference, for cells no one prints.

use super::escapes::{
    CURSOR_LIMIT, Cursor, ESC, escape_sequence, is_still_control, moves_cursor, strip_controls,
};
use super::unicode_tables::{
    EMOJI_BASE, SPACING_MARK, VIRAMA, VS15_WIDE_TO_NARROW, VS16_NARROW_TO_WIDE,
};
use std::cmp::Ordering;
use unicode_width::UnicodeWidthChar;

/// Where `unicode-width` 0.2 and wcwidth 0.9.5 give a single character different widths
/// (besides spacing marks, see [`SPACING_MARK`]): wcwidth's width wins. Found by comparing
/// every code point; `tests/pretty_table.rs` compares them all again against wcwidth's output
/// (`tests/fixtures/prettytable/wcwidth.json`), so a new `unicode-width` that changes one of
/// them shows there.
const WIDTH_OVERRIDES: &[(u32, u32, u8)] = &[
    (0x00AD, 0x00AD, 1), // soft hyphen
    (0x0605, 0x0605, 1), // prepended concatenation marks ...
    (0x070F, 0x070F, 1),
    (0x0890, 0x0891, 1),
    (0x08E2, 0x08E2, 1),
    (0x0D4E, 0x0D4E, 1), // ... and prefixed letters
    (0x17A4, 0x17A4, 1),
    (0x17D8, 0x17D8, 1),
    (0x2028, 0x2029, 0), // line and paragraph separators
    (0x2D7F, 0x2D7F, 0),
    (0xA8FA, 0xA8FA, 1),
    (0xD7C7, 0xD7CA, 0), // unassigned Hangul Jamo Extended-B
    (0xD7FC, 0xD7FF, 0),
    (0xFFF9, 0xFFFB, 0), // interlinear annotation controls
    (0x111C2, 0x111C3, 1),
    (0x113D1, 0x113D1, 1),
    (0x1193F, 0x1193F, 1),
    (0x11941, 0x11941, 1),
    (0x11A84, 0x11A89, 1),
    (0x11D46, 0x11D46, 1),
    (0x11F02, 0x11F02, 1),
    (0x13430, 0x1343F, 0), // Egyptian hieroglyph format controls
    (0x1F1E6, 0x1F1FF, 2), // a regional indicator alone
];

/// Regional indicators, which pair into one flag.
const REGIONAL_INDICATORS: (u32, u32) = (0x1F1E6, 0x1F1FF);
/// Skin tone modifiers, which join the emoji before them.
const FITZPATRICK: (u32, u32) = (0x1F3FB, 0x1F3FF);
const ZWJ: u32 = 0x200D;
const VS16: u32 = 0xFE0F;
const VS15: u32 = 0xFE0E;
/// wcwidth measures a string longer than this (in code points) in which nothing moves the
/// cursor sideways by stripping its control characters and sequences and measuring the rest
/// as one text: characters on both sides of a stripped one can then join into one cluster,
/// so the width can differ from following the cursor, and we do the same.
const FAST_PATH_MIN_LEN: usize = 20;

/// The entry of the sorted `ranges` whose inclusive `(first, last)` bounds hold `cp`.
fn find_range<T>(ranges: &[T], cp: u32, bounds: impl Fn(&T) -> (u32, u32)) -> Option<&T> {
    let found = ranges.binary_search_by(|range| {
        let (first, last) = bounds(range);
        if last < cp {
            Ordering::Less
        } else if first > cp {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    });
    found.ok().and_then(|i| ranges.get(i))
}

/// Whether `cp` is in the sorted, inclusive `ranges`.
pub(super) fn in_ranges(ranges: &[(u32, u32)], cp: u32) -> bool {
    find_range(ranges, cp, |&range| range).is_some()
}

/// The width of one printable character, as `wcwidth.wcwidth` gives it: 0, 1 or 2.
fn char_width(c: char) -> i64 {
    let cp = u32::from(c);
    if (0x20..0x7F).contains(&cp) {
        return 1;
    }
    if let Some(&(_, _, w)) = find_range(WIDTH_OVERRIDES, cp, |&(first, last, _)| (first, last)) {
        return i64::from(w);
    }
    if in_ranges(SPACING_MARK, cp) {
        return 0;
    }
    // Control characters get here only in text measured as wcswidth does, and only NUL,
    // whose width is 0.
    c.width().map_or(0, |w| w as i64)
}

/// The cursor and the cluster being measured, as wcwidth's `width()` keeps them.
#[derive(Debug, Default)]
struct Measure {
    /// The cursor column; it can go below 0 for a moment (`CSI 0 G`, a VS15), as in wcwidth.
    col: i64,
    /// The rightmost column reached: the width.
    max_extent: i64,
    /// The width of the cluster not yet added to `col`.
    cluster: i64,
    /// Whether a variation selector or a spacing mark may still apply to the last measured
    /// character (not after a selector, a mark, a control character or a sequence).
    vs_base: bool,
    /// The last measured character (or the second of a pair of regional indicators); kept
    /// past a variation selector or a ZWJ, forgotten after a control character or sequence.
    last_ucs: Option<u32>,
    last_width: i64,
    /// `max_extent` when the last character was measured, for VS15.
    max_before_last: i64,
    prev_was_virama: bool,
    regional_unpaired: bool,
}

impl Measure {
    fn flush(&mut self) {
        if self.cluster != 0 {
            self.col += self.cluster;
            self.max_extent = self.max_extent.max(self.col);
            self.cluster = 0;
        }
    }

    /// After a control character or a sequence: nothing before it can join what follows.
    fn break_cluster(&mut self) {
        self.vs_base = false;
        self.last_ucs = None;
    }

    /// Moves the cursor right to `target`, no further than the limit allows.
    fn move_right_to(&mut self, target: i64) {
        self.col = target.min(self.col.max(CURSOR_LIMIT));
    }

    /// Measures `chars`. `terminal`: follow control characters and escape sequences as
    /// `wcwidth.width` does; otherwise measure as `wcwidth.wcswidth` does, for text without
    /// them: `None` (wcswidth's -1) if it meets a control character other than NUL.
    fn run(mut self, chars: &[char], terminal: bool) -> Option<usize> {
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            let regional_unpaired_before = self.regional_unpaired;
            self.regional_unpaired = false;
            let control = c == ESC || is_still_control(c) || matches!(c, '\x08' | '\t' | '\r');
            if !terminal && control && c != '\0' {
                return None;
            }
            if terminal && c == ESC {
                self.flush();
                match chars.get(i..).and_then(escape_sequence) {
                    None => i += 1,
                    Some((len, cursor)) => {
                        match cursor {
                            Cursor::Stay => {}
                            // wcwidth's C extension jumps to its largest column when
                            // moving right from column -1; ours is the limit.
                            Cursor::Forward(_) if self.col < 0 => self.move_right_to(i64::MAX),
                            Cursor::Forward(n) => self.move_right_to(self.col.saturating_add(n)),
                            Cursor::Backward(n) => self.col = (self.col - n).max(0),
                            Cursor::Column(n) => self.move_right_to(n - 1),
                            Cursor::Sized { scale, width, text } => {
                                let columns = if width > 0 {
                                    scale * width
                                } else {
                                    // wcwidth measures the text with `wcswidth`, whose -1 for
                                    // control characters counts as 0.
                                    let text = chars.get(i + text.0..i + text.1);
                                    let own = text.and_then(text_width).unwrap_or(0);
                                    scale * i64::try_from(own).unwrap_or(0)
                                };
                                self.col += columns;
                            }
                        }
                        i += len;
                    }
                }
                self.break_cluster();
                self.max_extent = self.max_extent.max(self.col);
                continue;
            }
            if terminal && matches!(c, '\x08' | '\t' | '\r') {
                self.flush();
                match c {
                    // C's remainder, as wcwidth's C extension computes it: from column -1
                    // (after `CSI 0 G`) a tab moves to column 8, not 0.
                    '\t' => self.col += 8 - self.col % 8,
                    '\x08' if self.col > 0 => self.col -= 1,
                    '\r' => self.col = 0,
                    _ => {}
                }
                self.max_extent = self.max_extent.max(self.col);
                self.break_cluster();
                i += 1;
                continue;
            }
            if terminal && control {
                self.flush();
                self.break_cluster();
                i += 1;
                continue;
            }
            i += self.character(
                c,
                u32::from(c),
                i + 1 < chars.len(),
                regional_unpaired_before,
            );
        }
        self.flush();
        Some(usize::try_from(self.max_extent).unwrap_or(0))
    }

    /// Measures a printable character; returns how many characters it consumed (a ZWJ
    /// consumes the character after it too).
    fn character(
        &mut self,
        c: char,
        ucs: u32,
        more: bool,
        regional_unpaired_before: bool,
    ) -> usize {
        if ucs == ZWJ {
            // The character after a ZWJ joins the cluster without being measured, unless a
            // virama came before (then the ZWJ is just skipped).
            if self.prev_was_virama {
                return 1;
            }
            self.prev_was_virama = false;
            if more {
                self.last_width = 0;
                return 2;
            }
            return 1;
        }
        if let Some(base) = self.last_ucs.filter(|_| self.vs_base) {
            if ucs == VS16 {
                if in_ranges(VS16_NARROW_TO_WIDE, base) {
                    self.cluster = 2;
                }
                self.vs_base = false;
                return 1;
            }
            if ucs == VS15 {
                if in_ranges(VS15_WIDE_TO_NARROW, base) && self.last_width == 2 {
                    self.col -= 1;
                    self.max_extent = self.max_before_last.max(self.col);
                }
                self.vs_base = false;
                return 1;
            }
        }
        if (REGIONAL_INDICATORS.0..=REGIONAL_INDICATORS.1).contains(&ucs) {
            // The second of a pair joins the first.
            self.regional_unpaired = !regional_unpaired_before;
            if regional_unpaired_before {
                self.last_ucs = Some(ucs);
                return 1;
            }
        } else if (FITZPATRICK.0..=FITZPATRICK.1).contains(&ucs)
            && self.last_ucs.is_some_and(|b| in_ranges(EMOJI_BASE, b))
        {
            return 1;
        }
        let w = char_width(c);
        if w > 0 {
            if self.prev_was_virama {
                self.cluster = 2;
            } else {
                self.flush();
                self.cluster = w;
            }
            self.vs_base = true;
            self.last_ucs = Some(ucs);
            self.last_width = w;
            self.max_before_last = self.max_extent;
            self.prev_was_virama = false;
        } else if in_ranges(VIRAMA, ucs) {
            self.prev_was_virama = true;
        } else if self.vs_base && in_ranges(SPACING_MARK, ucs) {
            self.cluster = 2;
            self.vs_base = false;
            self.prev_was_virama = false;
        } else {
            self.prev_was_virama = false;
        }
        1
    }
}

/// The width of text without escape sequences as `wcwidth.wcswidth` measures it: `None`
/// (its -1) if the text holds a control character other than NUL.
pub(super) fn text_width(chars: &[char]) -> Option<usize> {
    Measure::default().run(chars, false)
}

/// The number of terminal columns `text` takes, as `wcwidth.width(text)` (wcwidth 0.9.5,
/// default arguments) counts them: the width prettytable 3.19.0 sizes and pads columns by.
///
/// CJK and other East Asian wide characters and emoji take two columns, combining marks and
/// other zero-width characters none; control characters take none but move the cursor as a
/// terminal would (a tab to the next multiple of 8, a carriage return back to the start, the
/// width being the rightmost column reached); terminal escape sequences take none.
///
/// ```
/// use span_storage::query::display_width;
///
/// assert_eq!(display_width("trace"), 5);
/// assert_eq!(display_width("你好"), 4);
/// assert_eq!(display_width("👨\u{200d}👩\u{200d}👧"), 2);
/// assert_eq!(display_width("\x1b[31mred\x1b[0m"), 3);
/// assert_eq!(display_width("abc\t"), 8);
/// ```
pub fn display_width(text: &str) -> usize {
    if text.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return text.len();
    }
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > FAST_PATH_MIN_LEN && !moves_cursor(&chars) {
        // Nothing is left for wcswidth to refuse.
        return text_width(&strip_controls(&chars)).unwrap_or(0);
    }
    Measure::default().run(&chars, true).unwrap_or(0)
}

/// `text` centred in `width` columns, as `wcwidth.center(text, width)` does it: text at
/// least as wide is returned as it is; when the spare columns are odd, the extra one goes
/// left if `width` is odd and right if it is even (Python's `str.center` rule).
pub(super) fn center(text: &str, width: usize) -> String {
    let spare = width.saturating_sub(display_width(text));
    let left = spare / 2 + (spare & width & 1);
    let right = spare - left;
    let mut out = String::with_capacity(text.len() + spare);
    out.extend(std::iter::repeat_n(' ', left));
    out.push_str(text);
    out.extend(std::iter::repeat_n(' ', right));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_columns_like_wcwidth() {
        assert_eq!(display_width(""), 0);
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("中文"), 4);
        assert_eq!(display_width("e\u{301}"), 1);
        assert_eq!(display_width("🇯🇵"), 2);
        assert_eq!(display_width("👍🏽"), 2);
        assert_eq!(display_width("❤\u{fe0f}"), 2);
        assert_eq!(display_width("x\u{200d}y"), 1);
        assert_eq!(display_width("a\tb"), 9);
        assert_eq!(display_width("ab\rc"), 2);
        assert_eq!(display_width("123\x084"), 3);
        assert_eq!(display_width("1\x1b[10C"), 11);
        assert_eq!(display_width("\x1b"), 0);
        assert_eq!(display_width("a\x00b"), 2);
    }

    #[test]
    fn cursor_movement_is_bounded() {
        let far = display_width("\x1b[99999999999999999999999C");
        assert_eq!(far, usize::try_from(CURSOR_LIMIT).unwrap_or(0));
    }

    #[test]
    fn centers_like_python() {
        assert_eq!(center("a", 4), " a  ");
        assert_eq!(center("a", 5), "  a  ");
        assert_eq!(center("ab", 5), "  ab ");
        assert_eq!(center("abc", 4), "abc ");
        assert_eq!(center("toolong", 3), "toolong");
        assert_eq!(center("中", 5), "  中 ");
    }
}

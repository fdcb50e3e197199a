//! The text table: what prettytable's `get_string()` (and so `print(table)`) returns with
//! its default style.
//!
//! ```text
//! +-------------------+      a title, if any: a frame over the whole width, the title
//! |       title       |      centred in it (each of its lines)
//! +---------+---------+
//! |  name   |  value  |      the field names, centred
//! +---------+---------+
//! |    a    |    1    |      one line per line of the tallest cell of the row; every
//! | longer  |    2    |      line centred in its column, one space of padding each side
//! +---------+---------+
//! ```

use super::width::{center, display_width};

/// Renders the table; `cells` are already formatted (Python's `str()`, tabs expanded) and
/// each row has as many cells as there are field names.
pub(super) fn render(field_names: &[String], title: Option<&str>, cells: &[Vec<String>]) -> String {
    let widths = column_widths(field_names, title, cells);
    let rule = rule(&widths, '+');
    let mut lines: Vec<String> = Vec::new();
    if let Some(title) = title {
        // The title's frame has no column junctions.
        lines.push(self::rule(&widths, '-'));
        // The columns' width with their padding and right border, less the last border.
        let inner = widths
            .iter()
            .map(|w| w + 3)
            .sum::<usize>()
            .saturating_sub(1);
        for line in title.split('\n') {
            lines.push(format!("|{}|", center(&format!(" {line} "), inner)));
        }
    }
    lines.push(rule.clone());
    lines.push(header(field_names, &widths));
    lines.push(rule.clone());
    for row in cells {
        lines.push(row_lines(row, &widths));
    }
    lines.push(rule);
    lines.join("\n")
}

/// The width of each column's content: the widest line of its field name and cells, grown
/// in proportion when the title is wider than the columns together.
fn column_widths(field_names: &[String], title: Option<&str>, cells: &[Vec<String>]) -> Vec<usize> {
    let block_width = |text: &str| text.split('\n').map(display_width).max().unwrap_or(0);
    let mut widths: Vec<usize> = field_names.iter().map(|name| block_width(name)).collect();
    for row in cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(block_width(cell));
        }
    }
    let Some(title) = title else {
        return widths;
    };
    // The title's widest line with its padding and the two borders, less what the columns
    // need besides content (two padding spaces each and a border after each and before the
    // first), is the content width the columns must have together.
    let title_width = block_width(title) as i64 + 2 + 2;
    let columns = widths.len() as i64;
    let needed = title_width - (2 * columns + columns + 1);
    let content: i64 = widths.iter().sum::<usize>() as i64;
    // prettytable divides by 1 for columns that are all empty.
    let content = content.max(1);
    if content < needed {
        // Python's float arithmetic, truncated as `int()` does; the last column takes what
        // the truncation lost.
        let scale = needed as f64 / content as f64;
        for width in &mut widths {
            *width = (*width as f64 * scale) as usize;
        }
        let sum = widths.iter().sum::<usize>() as i64;
        if let Some(last) = widths.last_mut() {
            *last += usize::try_from(needed - sum).unwrap_or(0);
        }
    }
    widths
}

/// A horizontal rule: `+` at both ends, `-` over each column and its padding, and
/// `junction` between columns.
fn rule(widths: &[usize], junction: char) -> String {
    let mut out = String::from("+");
    for (i, width) in widths.iter().enumerate() {
        if i > 0 {
            out.push(junction);
        }
        out.extend(std::iter::repeat_n('-', width + 2));
    }
    out.push('+');
    out
}

/// The field names line.
fn header(field_names: &[String], widths: &[usize]) -> String {
    let mut out = String::from("|");
    if field_names.is_empty() {
        out.push('|');
    }
    for (name, &width) in field_names.iter().zip(widths) {
        // prettytable cuts a name wider than its column to `width` code points. Only a name
        // with a line break can be (its width counts every line, the column only the widest),
        // and then the cut name keeps the break: the line is broken, as in prettytable.
        let name: String = if display_width(name) > width {
            name.chars().take(width).collect()
        } else {
            name.clone()
        };
        out.push(' ');
        out.push_str(&center(&name, width));
        out.push_str(" |");
    }
    out
}

/// One row: as many lines as its tallest cell has, shorter cells padded below.
fn row_lines(row: &[String], widths: &[usize]) -> String {
    let split: Vec<Vec<&str>> = row.iter().map(|cell| cell.split('\n').collect()).collect();
    // A row always takes at least one line (prettytable cannot print a row of no cells).
    let height = split.iter().map(Vec::len).max().unwrap_or(1);
    let mut lines = Vec::with_capacity(height);
    for y in 0..height {
        let mut line = String::from("|");
        for (cell, &width) in split.iter().zip(widths) {
            line.push(' ');
            line.push_str(&center(cell.get(y).copied().unwrap_or(""), width));
            line.push_str(" |");
        }
        lines.push(line);
    }
    lines.join("\n")
}

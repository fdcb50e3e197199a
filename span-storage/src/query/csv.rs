//! CSV as the trace commands write it: a field is quoted only when it must be.

/// One CSV field, quoted when it must be.
pub(super) fn csv_field(out: &mut String, field: &str) {
    if field.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

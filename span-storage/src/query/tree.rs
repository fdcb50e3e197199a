//! [`TraceTree`]: one trace as a tree of spans (`dbgpt trace tree`), and its waterfall.

use super::load::merge_records;
use crate::{Span, SpanType, format_span_time};
use chrono::NaiveDateTime;
use serde::Serialize;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt::Write as _;

/// One span in a [`TraceTree`], with its children ordered by start time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceNode {
    /// The span (start and end records merged).
    pub span: Span,
    /// How long it took, in milliseconds; `None` while it is open.
    pub duration_ms: Option<f64>,
    /// Its children, oldest first.
    pub children: Vec<TraceNode>,
}

/// One trace as a tree.
///
/// Built robustly from whatever the files hold: a span whose parent is missing (not written
/// yet, or in a file not read) is shown at the root level, and parent links that form a cycle
/// are cut: the earliest span not reachable from a root becomes a root, until every span is
/// placed. Every span of the trace appears exactly once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceTree {
    /// The trace id.
    pub trace_id: String,
    /// The root spans (true roots and orphans), oldest first.
    pub roots: Vec<TraceNode>,
}

/// One bar of a waterfall chart: a span placed on the trace's time line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaterfallRow {
    /// Depth in the tree; roots are at 0.
    pub depth: usize,
    /// The span id.
    pub span_id: String,
    /// The operation name.
    pub operation_name: String,
    /// Milliseconds from the start of the trace (its earliest span) to the start of this span.
    pub offset_ms: f64,
    /// How long the span took, in milliseconds; `None` while it is open.
    pub duration_ms: Option<f64>,
    /// The kind of span.
    pub span_type: SpanType,
}

/// Milliseconds from `from` to `to` (negative if `to` is earlier).
pub(crate) fn millis_between(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    let delta = to - from;
    match delta.num_microseconds() {
        Some(us) => us as f64 / 1000.0,
        None => delta.num_milliseconds() as f64,
    }
}

/// How long a span took, in milliseconds; `None` while it is open.
pub(crate) fn duration_ms(span: &Span) -> Option<f64> {
    span.end_time
        .map(|end| millis_between(span.start_time, end))
}

impl TraceTree {
    /// Builds the tree of trace `trace_id` from `spans` (which may hold other traces, and may
    /// hold start and end records unmerged: they are merged first; `Span`s or `Arc<Span>`s).
    /// `None` if the trace has no span.
    pub fn build<S: Borrow<Span>>(trace_id: &str, spans: &[S]) -> Option<TraceTree> {
        let mine = spans
            .iter()
            .map(Borrow::borrow)
            .filter(|s: &&Span| s.trace_id == trace_id);
        let mut mine = merge_records(mine.cloned());
        if mine.is_empty() {
            return None;
        }
        mine.sort_by_key(|s| s.start_time);
        let by_id: HashMap<&str, usize> = mine
            .iter()
            .enumerate()
            .map(|(i, s)| (s.span_id.as_str(), i))
            .collect();
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); mine.len()];
        let mut roots = Vec::new();
        for (i, span) in mine.iter().enumerate() {
            match span.parent_span_id.as_deref().and_then(|p| by_id.get(p)) {
                Some(&parent) if parent != i => children[parent].push(i),
                _ => roots.push(i),
            }
        }
        // Walk from the roots; what is left unvisited hangs off a cycle: cut it at its
        // earliest span and walk again.
        let mut visited = vec![false; mine.len()];
        let mut preorder = Vec::with_capacity(mine.len());
        let mut kept_roots = Vec::new();
        for root in roots.into_iter().chain(0..mine.len()) {
            if visited[root] {
                continue;
            }
            kept_roots.push(root);
            let mut stack = vec![root];
            visited[root] = true;
            while let Some(at) = stack.pop() {
                preorder.push(at);
                for &child in children[at].iter().rev() {
                    if !visited[child] {
                        visited[child] = true;
                        stack.push(child);
                    }
                }
            }
        }
        // Assemble bottom-up (children come after their parent in preorder), so a deep trace
        // needs no deep recursion.
        let mut slots: Vec<Option<Span>> = mine.into_iter().map(Some).collect();
        let mut nodes: Vec<Option<TraceNode>> = vec![None; slots.len()];
        for &at in preorder.iter().rev() {
            let Some(span) = slots[at].take() else {
                continue;
            };
            let kids = children[at]
                .iter()
                .filter_map(|&c| nodes[c].take())
                .collect();
            nodes[at] = Some(TraceNode {
                duration_ms: duration_ms(&span),
                span,
                children: kids,
            });
        }
        // Spans are indexed by start time: sorting the indices puts the roots oldest first.
        kept_roots.sort_unstable();
        let roots = kept_roots.iter().filter_map(|&r| nodes[r].take()).collect();
        Some(TraceTree {
            trace_id: trace_id.to_owned(),
            roots,
        })
    }

    /// Every node with its depth, in display order (depth first, oldest child first).
    pub fn walk(&self) -> Vec<(usize, &TraceNode)> {
        let mut out = Vec::new();
        let mut stack: Vec<(usize, &TraceNode)> = self.roots.iter().rev().map(|n| (0, n)).collect();
        while let Some((depth, node)) = stack.pop() {
            out.push((depth, node));
            stack.extend(node.children.iter().rev().map(|c| (depth + 1, c)));
        }
        out
    }

    /// How many spans the tree holds.
    pub fn len(&self) -> usize {
        self.walk().len()
    }

    /// Whether the tree holds no span (never the case for a built tree).
    pub fn is_empty(&self) -> bool {
        self.roots.is_empty()
    }

    /// The tree as text, one line per span, two spaces of indent per level, in the shape of
    /// `dbgpt trace tree` with the duration added:
    ///
    /// ```text
    /// Operation: get_chat_instance (Start: 2024-01-01 12:00:00.000, End: 2024-01-01 12:00:01.500, Duration: 1500 ms)
    ///   Operation: run_model (Start: 2024-01-01 12:00:00.100, End: None)
    /// ```
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for (depth, node) in self.walk() {
            let span = &node.span;
            let indent = "  ".repeat(depth);
            let start = format_span_time(&span.start_time);
            let _ = match (span.end_time, node.duration_ms) {
                (Some(end), Some(ms)) => writeln!(
                    out,
                    "{indent}Operation: {} (Start: {start}, End: {}, Duration: {ms} ms)",
                    span.operation_name,
                    format_span_time(&end)
                ),
                _ => writeln!(
                    out,
                    "{indent}Operation: {} (Start: {start}, End: None)",
                    span.operation_name
                ),
            };
        }
        out
    }

    /// The waterfall rows as CSV, with a header line, quoted as [`super::render_list`] quotes.
    pub fn render_csv(&self) -> String {
        let mut out =
            String::from("depth,span_id,operation_name,span_type,offset_ms,duration_ms\n");
        for row in self.waterfall() {
            let fields = [
                row.depth.to_string(),
                row.span_id,
                row.operation_name,
                row.span_type.to_string(),
                row.offset_ms.to_string(),
                row.duration_ms.map(|d| d.to_string()).unwrap_or_default(),
            ];
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                super::csv::csv_field(&mut out, field);
            }
            out.push('\n');
        }
        out
    }

    /// The waterfall: one row per span in display order, placed relative to the earliest
    /// start time in the trace.
    pub fn waterfall(&self) -> Vec<WaterfallRow> {
        let nodes = self.walk();
        let Some(origin) = nodes.iter().map(|(_, n)| n.span.start_time).min() else {
            return Vec::new();
        };
        nodes
            .into_iter()
            .map(|(depth, node)| WaterfallRow {
                depth,
                span_id: node.span.span_id.clone(),
                operation_name: node.span.operation_name.clone(),
                offset_ms: millis_between(origin, node.span.start_time),
                duration_ms: node.duration_ms,
                span_type: node.span.span_type,
            })
            .collect()
    }
}

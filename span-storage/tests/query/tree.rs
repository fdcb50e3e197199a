//! Trace trees, orphans, cycles and waterfalls.

use super::*;

#[test]
fn tree_of_a_trace_with_durations() {
    let tree = TraceTree::build(A, &fixture()).expect("trace A");
    assert_eq!(tree.trace_id, A);
    assert_eq!(tree.len(), 3);
    assert_eq!(tree.roots[0].duration_ms, Some(1500.0));
    assert_eq!(
        tree.render_text(),
        "Operation: get_chat_instance (Start: 2024-01-01 12:00:00.000, End: 2024-01-01 12:00:01.500, Duration: 1500 ms)\n\
         \x20 Operation: BaseChat.stream_call (Start: 2024-01-01 12:00:00.100, End: 2024-01-01 12:00:01.100, Duration: 1000 ms)\n\
         \x20   Operation: model.generate (Start: 2024-01-01 12:00:00.200, End: None)\n"
    );
    let row = |depth, n: u64, op: &str, offset_ms, duration_ms, span_type| WaterfallRow {
        depth,
        span_id: sid(A, n),
        operation_name: op.to_owned(),
        offset_ms,
        duration_ms,
        span_type,
    };
    assert_eq!(
        tree.waterfall(),
        [
            row(
                0,
                0x00f067aa0ba902b7,
                "get_chat_instance",
                0.0,
                Some(1500.0),
                SpanType::Chat
            ),
            row(
                1,
                0xb7ad6b7169203331,
                "BaseChat.stream_call",
                100.0,
                Some(1000.0),
                SpanType::Run
            ),
            row(
                2,
                0xe457b5a2e4d86bd1,
                "model.generate",
                200.0,
                None,
                SpanType::Base
            ),
        ]
    );
    let json = serde_json::to_string(&tree.waterfall()[2]).expect("json");
    assert_eq!(
        json,
        format!(
            r#"{{"depth":2,"span_id":"{A}:e457b5a2e4d86bd1","operation_name":"model.generate","offset_ms":200.0,"duration_ms":null,"span_type":"base"}}"#
        )
    );
    assert!(TraceTree::build("no-such-trace", &fixture()).is_none());
    // Unmerged records build the same tree.
    let records: Vec<Span> = LINES
        .iter()
        .map(|l| Span::from_json_line(l).expect("line"))
        .collect();
    assert_eq!(TraceTree::build(A, &records), Some(tree));
}

#[test]
fn orphans_go_to_the_root_level_and_cycles_are_cut() {
    let spans = vec![
        span(1, None, "root", 0, Some(100)),
        span(2, Some(1), "child", 10, Some(20)),
        span(3, Some(99), "orphan", 5, None), // its parent was never written
        span(4, Some(6), "cycle-a", 30, Some(40)), // 4 -> 6 -> 5 -> 4
        span(5, Some(4), "cycle-b", 31, None),
        span(6, Some(5), "cycle-c", 32, None),
        span(7, Some(7), "own-parent", 50, None),
        span(8, Some(5), "under-cycle", 33, None),
    ];
    let tree = TraceTree::build(A, &spans).expect("tree");
    assert_eq!(tree.len(), spans.len(), "every span exactly once");
    let shape: Vec<String> = tree
        .waterfall()
        .iter()
        .map(|r| format!("{}{}", "-".repeat(r.depth), r.operation_name))
        .collect();
    assert_eq!(
        shape,
        [
            "root",
            "-child",
            "orphan",
            "cycle-a",
            "-cycle-b",
            "--cycle-c",
            "--under-cycle",
            "own-parent"
        ]
    );
    let offsets: Vec<f64> = tree.waterfall().iter().map(|r| r.offset_ms).collect();
    assert_eq!(offsets, [0.0, 10.0, 5.0, 30.0, 31.0, 32.0, 33.0, 50.0]);
    // A trace made only of a cycle still has roots.
    let ring = vec![
        span(1, Some(2), "x", 1, None),
        span(2, Some(1), "y", 0, None),
    ];
    let ring = TraceTree::build(A, &ring).expect("tree");
    assert_eq!(
        ring.render_text(),
        "Operation: y (Start: 2024-01-01 12:00:00.000, End: None)\n  Operation: x (Start: 2024-01-01 12:00:00.001, End: None)\n"
    );
}

//! DB-GPT's list filters, order and limit.

use super::*;

#[test]
fn each_filter() {
    let all = fixture();
    let run = |f: SpanFilter| ids(&f.apply(all.clone())).join(" ");
    assert_eq!(
        run(SpanFilter::default()),
        "get_chat_instance BaseChat.stream_call model.generate agent.act"
    );
    assert_eq!(run(SpanFilter::default().trace_id(B)), "agent.act");
    assert_eq!(
        run(SpanFilter::default().trace_id(&A[..8])),
        "",
        "ids match exactly"
    );
    assert_eq!(
        run(SpanFilter::default().span_id(sid(A, 0xb7ad6b7169203331))),
        "BaseChat.stream_call"
    );
    assert_eq!(
        run(SpanFilter::default().span_type(SpanType::Run)),
        "BaseChat.stream_call"
    );
    assert_eq!(
        run(SpanFilter::default().parent_span_id(sid(A, 0x00f067aa0ba902b7))),
        "BaseChat.stream_call"
    );
    let empty = SpanFilter::default()
        .trace_id("")
        .span_id("")
        .parent_span_id("")
        .search("");
    assert_eq!(empty, SpanFilter::default(), "an empty option is no filter");
    // Search: operation name, an id, a metadata key, a string value, another value's JSON text.
    assert_eq!(
        run(SpanFilter::default().search("stream")),
        "BaseChat.stream_call"
    );
    assert_eq!(
        run(SpanFilter::default().search("e457b5a2")),
        "model.generate"
    );
    assert_eq!(
        run(SpanFilter::default().search("conv_uid")),
        "get_chat_instance"
    );
    assert_eq!(
        run(SpanFilter::default().search("\"world")),
        "BaseChat.stream_call"
    );
    assert_eq!(
        run(SpanFilter::default().search("0.6")),
        "BaseChat.stream_call"
    );
    assert_eq!(
        run(SpanFilter::default().search("00f067aa")),
        "get_chat_instance BaseChat.stream_call",
        "parent id too"
    );
    assert_eq!(
        run(SpanFilter::default().search("CHAT_NORMAL")),
        "",
        "case-sensitive"
    );
    // The window applies to the start time and includes both ends.
    let window = SpanFilter::default()
        .start_time(t("2024-01-01 12:00:00.100"))
        .end_time(t("2024-01-01 12:00:00.200"));
    assert_eq!(run(window), "BaseChat.stream_call model.generate");
    assert_eq!(
        run(SpanFilter::default().start_time(t("2024-01-02 00:00:00"))),
        "agent.act"
    );
    assert_eq!(
        run(SpanFilter::default().end_time(t("2024-01-01 12:00:00"))),
        "get_chat_instance"
    );
    // Filters combine.
    let both = SpanFilter::default().trace_id(A).search("c-1");
    assert!(both.matches(&all[0]) && !both.matches(&all[3]));
}

#[test]
fn order_and_limit() {
    let spans: Vec<Span> = (0..25)
        .map(|i| span(i + 1, None, &format!("op{i}"), i as i64 * 10, None))
        .collect();
    let mut shuffled = spans.clone();
    shuffled.reverse();
    assert_eq!(SpanFilter::for_list().limit, Some(DEFAULT_LIST_LIMIT));
    let listed = SpanFilter::for_list().apply(shuffled.clone());
    assert_eq!(
        listed,
        spans[..20],
        "ascending keeps the oldest, as DB-GPT does"
    );
    let newest = SpanFilter::default()
        .descending(true)
        .limit(Some(3))
        .apply(shuffled.clone());
    assert_eq!(ids(&newest), ["op24", "op23", "op22"]);
    assert!(
        SpanFilter::default()
            .limit(Some(0))
            .apply(spans.clone())
            .is_empty()
    );
    assert_eq!(SpanFilter::default().apply(shuffled).len(), 25);
    // Equal start times keep their input order, either way.
    let same = vec![
        span(1, None, "first", 0, None),
        span(2, None, "second", 0, None),
    ];
    assert_eq!(
        ids(&SpanFilter::default().apply(same.clone())),
        ["first", "second"]
    );
    assert_eq!(
        ids(&SpanFilter::default().descending(true).apply(same)),
        ["first", "second"]
    );
}

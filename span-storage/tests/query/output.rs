//! The list formats and trace summaries.

use super::*;

#[test]
fn list_as_text_json_and_csv() {
    let spans = SpanFilter::default()
        .trace_id(A)
        .span_type(SpanType::Run)
        .apply(fixture());
    let spans = [spans, SpanFilter::default().trace_id(B).apply(fixture())].concat();
    assert_eq!(
        render_list(&spans, OutputFormat::Text),
        "\
+----------------------------------+---------------------------------------------------+----------------------+-----------+-------------------------+-------------------------+---------------+
| Trace ID                         | Span ID                                           | Operation Name       | Span Type | Start Time              | End Time                | Duration (ms) |
+----------------------------------+---------------------------------------------------+----------------------+-----------+-------------------------+-------------------------+---------------+
| 4bf92f3577b34da6a3ce929d0e0e4736 | 4bf92f3577b34da6a3ce929d0e0e4736:b7ad6b7169203331 | BaseChat.stream_call | run       | 2024-01-01 12:00:00.100 | 2024-01-01 12:00:01.100 | 1000          |
| 0af7651916cd43dd8448eb211c80319c | 0af7651916cd43dd8448eb211c80319c:b9c7c989f97918e1 | agent.act            | agent     | 2024-01-02 08:00:00.000 | 2024-01-02 08:00:00.250 | 250           |
+----------------------------------+---------------------------------------------------+----------------------+-----------+-------------------------+-------------------------+---------------+
"
    );
    assert_eq!(
        render_list(&spans[1..], OutputFormat::Json),
        format!(
            "[\n  {{\n    \"span_type\": \"agent\",\n    \"trace_id\": \"{B}\",\n    \"span_id\": \"{B}:b9c7c989f97918e1\",\n    \"parent_span_id\": null,\n    \"operation_name\": \"agent.act\",\n    \"start_time\": \"2024-01-02 08:00:00.000\",\n    \"end_time\": \"2024-01-02 08:00:00.250\",\n    \"metadata\": null\n  }}\n]\n"
        )
    );
    let parsed: Vec<Span> =
        serde_json::from_str(&render_list(&spans, OutputFormat::Json)).expect("json");
    assert_eq!(parsed, spans);
    // Metadata keys keep the order they were set in (the end record added `output`).
    assert_eq!(
        render_list(&spans, OutputFormat::Csv),
        format!(
            "span_type,trace_id,span_id,parent_span_id,operation_name,start_time,end_time,metadata,duration_ms\n\
             run,{A},{A}:b7ad6b7169203331,{A}:00f067aa0ba902b7,BaseChat.stream_call,2024-01-01 12:00:00.100,2024-01-01 12:00:01.100,\"{{\"\"temperature\"\":0.6,\"\"output\"\":\"\"hello, \\\"\"world\\\"\"\"\"}}\",1000\n\
             agent,{B},{B}:b9c7c989f97918e1,,agent.act,2024-01-02 08:00:00.000,2024-01-02 08:00:00.250,,250\n"
        )
    );
    let mut odd = span(1, None, "a,b \"c\"\nd", 0, None);
    odd.span_type = SpanType::Chat;
    let csv = render_list(&[odd.clone()], OutputFormat::Csv);
    assert!(
        csv.ends_with(",\"a,b \"\"c\"\"\nd\",2024-01-01 12:00:00.000,,,\n"),
        "{csv}"
    );
    let text = render_list(&[odd], OutputFormat::Text);
    assert!(
        text.contains("| a,b \"c\" d      |") && text.lines().count() == 5,
        "control characters become spaces: {text}"
    );
    assert_eq!("CSV".parse::<OutputFormat>(), Ok(OutputFormat::Csv));
    assert!("html".parse::<OutputFormat>().is_err());
}

#[test]
fn recent_traces_newest_first() {
    let records: Vec<Span> = LINES
        .iter()
        .map(|l| Span::from_json_line(l).expect("line"))
        .collect();
    let summaries = trace_summaries(&records);
    let shown: Vec<(&str, &str, Option<f64>, usize)> = summaries
        .iter()
        .map(|s| {
            (
                s.trace_id.as_str(),
                s.root_operation.as_str(),
                s.duration_ms,
                s.span_count,
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (B, "agent.act", Some(250.0), 1),
            (A, "get_chat_instance", Some(1500.0), 3)
        ]
    );
    let json = serde_json::to_string(&summaries[0]).expect("json");
    assert_eq!(
        json,
        format!(
            r#"{{"trace_id":"{B}","root_operation":"agent.act","start_time":"2024-01-02 08:00:00.000","duration_ms":250.0,"span_count":1}}"#
        )
    );
    // An open root: no duration yet; no root read: the earliest span stands in.
    let open = trace_summaries(&[
        span(1, None, "root", 0, None),
        span(2, Some(1), "c", 5, Some(9)),
    ]);
    assert_eq!(
        (open[0].root_operation.as_str(), open[0].duration_ms),
        ("root", None)
    );
    let headless = trace_summaries(&[
        span(2, Some(1), "late", 5, Some(9)),
        span(3, Some(1), "early", 1, Some(3)),
    ]);
    assert_eq!(
        (headless[0].root_operation.as_str(), headless[0].span_count),
        ("early", 2)
    );
}

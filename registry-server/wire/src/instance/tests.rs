use super::*;

fn body(text: &str) -> Result<ModelInstance, WireError> {
    InstanceBody::parse(text.as_bytes())?
        .into_instance()
        .map(ModelInstance::from)
}

fn field_of(result: Result<ModelInstance, WireError>) -> Option<&'static str> {
    result.unwrap_err().field_name()
}

#[test]
fn a_workers_register_body_converts_with_every_field() {
    let instance = body(
        r#"{"model_name":"glm-4-9b-chat@llm","host":"172.17.0.2","port":8001,"weight":2.5,
            "check_healthy":false,"healthy":false,"enabled":true,"prompt_template":"t",
            "last_heartbeat":null,"remove_from_registry":false,"unknown":{"nested":[1,2]}}"#,
    )
    .unwrap();
    assert_eq!(instance.model_name, "glm-4-9b-chat@llm");
    assert_eq!(instance.port, 8001);
    assert_eq!(instance.weight, 2.5);
    assert!(!instance.check_healthy);
    assert_eq!(instance.prompt_template.as_deref(), Some("t"));
}

#[test]
fn lax_types_are_accepted_as_pydantic_accepts_them() {
    let instance = body(r#"{"model_name":"m","host":"h","port":"8001","weight":"0.5","enabled":"false","last_heartbeat":"2024-01-01T12:00:00"}"#).unwrap();
    assert_eq!(instance.port, 8001);
    assert_eq!(instance.weight, 0.5);
    assert!(!instance.enabled);
    assert_eq!(
        body(r#"{"model_name":"m","host":"h","port":8001.0,"weight":null}"#)
            .unwrap()
            .weight,
        1.0
    );
}

#[test]
fn every_error_names_its_field() {
    assert_eq!(
        field_of(body(r#"{"host":"h","port":1}"#)),
        Some("model_name")
    );
    assert_eq!(
        field_of(body(r#"{"model_name":"m","port":1}"#)),
        Some("host")
    );
    assert_eq!(
        field_of(body(r#"{"model_name":"m","host":"h"}"#)),
        Some("port")
    );
    assert_eq!(
        field_of(body(r#"{"model_name":5,"host":"h","port":1}"#)),
        Some("model_name")
    );
    assert_eq!(
        field_of(body(r#"{"model_name":"m","host":"h","port":"x"}"#)),
        Some("port")
    );
    assert_eq!(
        field_of(body(r#"{"model_name":"m","host":"h","port":70000}"#)),
        Some("port")
    );
    assert_eq!(
        field_of(body(r#"{"model_name":"m","host":"h","port":0}"#)),
        Some("port")
    );
    assert_eq!(
        field_of(body(r#"{"model_name":"m","host":"h","port":1.5}"#)),
        Some("port")
    );
    assert_eq!(
        field_of(body(
            r#"{"model_name":"m","host":"h","port":18446744073709551615}"#
        )),
        Some("port")
    );
    assert_eq!(
        field_of(body(
            r#"{"model_name":"m","host":"h","port":1,"weight":[]}"#
        )),
        Some("weight")
    );
    assert_eq!(
        field_of(body(
            r#"{"model_name":"m","host":"h","port":1,"enabled":"maybe"}"#
        )),
        Some("enabled")
    );
    assert_eq!(
        field_of(body(
            r#"{"model_name":"m","host":"h","port":1,"last_heartbeat":"yesterday"}"#
        )),
        Some("last_heartbeat")
    );
    let long = "x".repeat(129);
    assert_eq!(
        field_of(body(&format!(
            r#"{{"model_name":"{long}","host":"h","port":1}}"#
        ))),
        Some("model_name")
    );
    assert_eq!(
        field_of(body(r#"{"model_name":"a___$$$$___b","host":"h","port":1}"#)),
        Some("model_name")
    );
    assert_eq!(
        field_of(body(r#"{"model_name":"  ","host":"h","port":1}"#)),
        Some("model_name")
    );
}

/// FastAPI's `detail` for a body, as DB-GPT's controller answers it (`input` filled from the
/// body as the server does).
fn detail_of(text: &str) -> serde_json::Value {
    let error = InstanceBody::parse(text.as_bytes())
        .and_then(InstanceBody::into_instance)
        .unwrap_err();
    error.with_body(text.as_bytes()).detail()
}

#[test]
fn non_objects_and_broken_json_are_rejected_without_a_field() {
    assert!(body("{").unwrap_err().is_malformed_json());
    for (text, kind) in [
        ("", "missing"),
        ("[1,2]", "dataclass_type"),
        ("true", "dataclass_type"),
    ] {
        let error = body(text).unwrap_err();
        assert_eq!(error.field_name(), None, "{text}");
        assert_eq!(error.problems()[0].kind, kind, "{text}");
    }
}

#[test]
fn problems_are_reported_as_dbgpt_reports_them() {
    // Each expected body is what DB-GPT 0.8.2's controller answered for the same request.
    let cases = [
        (
            "{}",
            r#"[{"type":"missing","loc":["body","model_name"],"msg":"Field required","input":{}},{"type":"missing","loc":["body","host"],"msg":"Field required","input":{}},{"type":"missing","loc":["body","port"],"msg":"Field required","input":{}}]"#,
        ),
        (
            r#"{"model_name":"m","host":"h","port":"abc"}"#,
            r#"[{"type":"int_parsing","loc":["body","port"],"msg":"Input should be a valid integer, unable to parse string as an integer","input":"abc"}]"#,
        ),
        (
            r#"{"model_name":"m","host":"h","port":1.5}"#,
            r#"[{"type":"int_from_float","loc":["body","port"],"msg":"Input should be a valid integer, got a number with a fractional part","input":1.5}]"#,
        ),
        (
            r#"{"model_name":"m","host":"h","port":[1]}"#,
            r#"[{"type":"int_type","loc":["body","port"],"msg":"Input should be a valid integer","input":[1]}]"#,
        ),
        (
            r#"{"model_name":null,"host":"h","port":1}"#,
            r#"[{"type":"string_type","loc":["body","model_name"],"msg":"Input should be a valid string","input":null}]"#,
        ),
        (
            r#"{"model_name":"m","host":"h","port":1,"weight":"x"}"#,
            r#"[{"type":"float_parsing","loc":["body","weight"],"msg":"Input should be a valid number, unable to parse string as a number","input":"x"}]"#,
        ),
        (
            r#"{"model_name":"m","host":"h","port":1,"enabled":2}"#,
            r#"[{"type":"bool_parsing","loc":["body","enabled"],"msg":"Input should be a valid boolean, unable to interpret input","input":2}]"#,
        ),
        (
            "not-json",
            r#"[{"type":"json_invalid","loc":["body",0],"msg":"JSON decode error","input":{},"ctx":{"error":"Expecting value"}}]"#,
        ),
        (
            r#""s""#,
            r#"[{"type":"dataclass_type","loc":["body"],"msg":"Input should be a dictionary or an instance of ModelInstance","input":"s","ctx":{"class_name":"ModelInstance"}}]"#,
        ),
        (
            "",
            r#"[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]"#,
        ),
    ];
    for (text, expected) in cases {
        let expected: serde_json::Value = serde_json::from_str(expected).unwrap();
        assert_eq!(detail_of(text), expected, "{text}");
    }
    // Lax values pydantic accepts.
    assert_eq!(
        body(r#"{"model_name":"m","host":"h","port":true}"#)
            .unwrap()
            .port,
        1
    );
    assert!(
        body(r#"{"model_name":"m","host":"h","port":1,"enabled":"yes"}"#)
            .unwrap()
            .enabled
    );
}

#[test]
fn rules_of_our_own_keep_fastapis_shape() {
    // DB-GPT accepts these; this registry refuses them, in DB-GPT's body shape.
    let detail = detail_of(r#"{"model_name":"m","host":"h","port":70000}"#);
    assert_eq!(detail[0]["type"], "value_error");
    assert_eq!(detail[0]["loc"], serde_json::json!(["body", "port"]));
    assert_eq!(detail[0]["input"], 70000);
    assert!(
        detail[0]["msg"]
            .as_str()
            .unwrap()
            .starts_with("Value error, ")
    );
}

fn deregister_query(query: &str) -> DeregisterQuery {
    // As the server's query extractor reads it: URL-encoded pairs.
    serde_urlencoded::from_str(query).unwrap()
}

#[test]
fn deregister_query_converts_and_ignores_extra_fields() {
    let query = deregister_query(
        "model_name=m&host=h&port=8001&remove_from_registry=true&weight=1.0&last_heartbeat=",
    );
    let instance = query.into_instance().unwrap();
    assert!(instance.remove_from_registry);
    assert_eq!(instance.port, 8001);
    let query = deregister_query("model_name=m&host=h");
    assert_eq!(
        query.into_instance().unwrap_err().detail(),
        serde_json::json!([{"type":"missing","loc":["query","port"],"msg":"Field required","input":null}])
    );
    let query = deregister_query("model_name=m&host=h&port=x");
    assert_eq!(
        query.into_instance().unwrap_err().detail(),
        serde_json::json!([{"type":"int_parsing","loc":["query","port"],
            "msg":"Input should be a valid integer, unable to parse string as an integer","input":"x"}])
    );
}

#[test]
fn listing_shows_all_ten_fields() {
    let mut instance = ModelInstance::new("m", "h", 1);
    instance.last_heartbeat = Some(chrono::DateTime::UNIX_EPOCH);
    let value = serde_json::to_value(instance_list(&[instance])).unwrap();
    let object = value[0].as_object().unwrap();
    assert_eq!(object.len(), 10);
    assert_eq!(object["last_heartbeat"], "1970-01-01T00:00:00.000000+00:00");
}

#[test]
fn dbgpt_listings_show_naive_wall_clock_times() {
    let shanghai = |time: chrono::DateTime<chrono::Utc>| {
        time.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
            .naive_local()
    };
    let mut instance = ModelInstance::new("m", "h", 1);
    instance.last_heartbeat = chrono::DateTime::from_timestamp(1_796_471_961, 123_456_789);
    let mut whole = ModelInstance::new("m", "h", 2);
    whole.last_heartbeat = chrono::DateTime::from_timestamp(1_796_471_961, 0);
    let never = ModelInstance::new("m", "h", 3);
    let value = serde_json::to_value(listing(&[instance, whole, never], shanghai)).unwrap();
    // Python's isoformat() of a naive datetime: microseconds, none when they are zero.
    assert_eq!(value[0]["last_heartbeat"], "2026-12-05T19:59:21.123456");
    assert_eq!(value[1]["last_heartbeat"], "2026-12-05T19:59:21");
    assert_eq!(value[2]["last_heartbeat"], serde_json::Value::Null);
    assert_eq!(value[0].as_object().unwrap().len(), 10);
}

#[test]
fn naive_listing_times_read_back_as_utc() {
    let mut instance = ModelInstance::new("m", "h", 1);
    instance.last_heartbeat = chrono::DateTime::from_timestamp(1_796_471_961, 5_000);
    let json = serde_json::to_vec(&listing(std::slice::from_ref(&instance), |time| {
        time.naive_utc()
    }))
    .unwrap();
    assert_eq!(parse_listing(&json).unwrap(), vec![instance]);
}

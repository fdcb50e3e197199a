use super::*;

fn body(text: &str) -> Result<ModelInstance, WireError> {
    InstanceBody::parse(text.as_bytes())?.into_instance()
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

#[test]
fn non_objects_and_broken_json_are_rejected_without_a_field() {
    assert!(matches!(body("{"), Err(WireError::MalformedJson(_))));
    assert!(matches!(body(""), Err(WireError::MalformedJson(_))));
    assert!(matches!(
        body("[1,2]"),
        Err(WireError::BadInput { field: None, .. })
    ));
    assert!(matches!(
        body("true"),
        Err(WireError::BadInput { field: None, .. })
    ));
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
        query.into_instance().unwrap_err().field_name(),
        Some("port")
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

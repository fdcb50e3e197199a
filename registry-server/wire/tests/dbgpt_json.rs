//! DB-GPT's JSON for an instance: read from a worker's body, written in listings, and read back
//! from listings (DB-GPT's controller's or ours).

use registry_core::ModelInstance;
use registry_wire::{InstanceBody, InstanceOut, WireError, encode_instance, parse_listing};
use serde_json::{Value, json};

fn from_body(body: &Value) -> Result<ModelInstance, WireError> {
    InstanceBody::parse(body.to_string().as_bytes())?
        .into_instance()
        .map(ModelInstance::from)
}

#[test]
fn worker_register_body_deserialises() {
    let body = r#"{"model_name":"glm-4-9b-chat@llm","host":"172.17.0.2","port":8001,"weight":1.0,"check_healthy":true,"healthy":false,"enabled":true,"prompt_template":null,"last_heartbeat":null,"remove_from_registry":false}"#;
    let instance = InstanceBody::parse(body.as_bytes())
        .unwrap()
        .into_instance()
        .unwrap();
    assert_eq!(
        *instance,
        ModelInstance::new("glm-4-9b-chat@llm", "172.17.0.2", 8001)
    );
}

#[test]
fn minimal_body_takes_defaults_and_ignores_unknown_fields() {
    let instance =
        from_body(&json!({"model_name": "m", "host": "h", "port": 1, "sys_code": "x"})).unwrap();
    assert_eq!(instance.weight, 1.0);
    assert!(instance.check_healthy && instance.enabled);
    assert!(!instance.healthy && !instance.remove_from_registry);
    assert_eq!(instance.prompt_template, None);
    assert_eq!(instance.last_heartbeat, None);
}

#[test]
fn serialises_all_ten_fields_with_iso_heartbeat() {
    let mut instance = ModelInstance::new("m", "h", 1);
    instance.last_heartbeat = Some("2024-01-01T12:00:00.123456Z".parse().unwrap());
    let value = serde_json::to_value(InstanceOut::from(&instance)).unwrap();
    let object = value.as_object().unwrap();
    assert_eq!(object.len(), 10);
    assert_eq!(
        object["last_heartbeat"],
        json!("2024-01-01T12:00:00.123456+00:00")
    );
    assert_eq!(
        serde_json::to_value(InstanceOut::from(&ModelInstance::new("m", "h", 1))).unwrap()["last_heartbeat"],
        Value::Null
    );
    // What a client sends is the same ten fields.
    let sent: Value = serde_json::from_slice(&encode_instance(&instance)).unwrap();
    assert_eq!(sent, value);
}

#[test]
fn heartbeat_time_reads_dbgpt_forms() {
    let read = |value: Value| {
        let listing = json!([{"model_name": "m", "host": "h", "port": 1, "last_heartbeat": value}]);
        parse_listing(listing.to_string().as_bytes())
            .map(|instances| instances[0].last_heartbeat.map(|t| t.timestamp()))
    };
    assert_eq!(
        read(json!("2024-01-01T00:00:10.5")).unwrap(),
        Some(1_704_067_210)
    );
    assert_eq!(
        read(json!("2024-01-01 00:00:10")).unwrap(),
        Some(1_704_067_210)
    );
    assert_eq!(
        read(json!("2024-01-01T08:00:10+08:00")).unwrap(),
        Some(1_704_067_210)
    );
    assert_eq!(read(json!(1_704_067_210.25)).unwrap(), Some(1_704_067_210));
    assert_eq!(read(json!(1_704_067_210)).unwrap(), Some(1_704_067_210));
    assert_eq!(read(json!(null)).unwrap(), None);
    let error = read(json!("yesterday")).unwrap_err();
    assert_eq!(error.field_name(), Some("last_heartbeat"));
}

#[test]
fn port_out_of_range_is_an_error_naming_the_port() {
    let error = from_body(&json!({"model_name": "m", "host": "h", "port": 70000})).unwrap_err();
    assert_eq!(error.field_name(), Some("port"));
    assert!(error.to_string().contains("70000"), "{error}");
}

#[test]
fn a_listing_reads_back_what_a_listing_writes() {
    let mut instance = ModelInstance::new("m@llm", "10.0.0.1", 8001);
    instance.healthy = true;
    instance.weight = 0.5;
    instance.prompt_template = Some("t".into());
    instance.last_heartbeat = Some("2024-01-01T12:00:00.123456Z".parse().unwrap());
    let listing = serde_json::to_vec(&[InstanceOut::from(&instance)]).unwrap();
    assert_eq!(parse_listing(&listing).unwrap(), vec![instance]);
    let not_a_list = parse_listing(b"{\"not\":\"a list\"}").unwrap_err();
    assert_eq!(not_a_list.problems()[0].kind, "list_type");
    assert!(parse_listing(b"[{").unwrap_err().is_malformed_json());
}

//! `ModelInstance` reads and writes DB-GPT's JSON.

use registry_core::ModelInstance;
use serde_json::{Value, json};

#[test]
fn worker_register_body_deserialises() {
    let body = r#"{"model_name":"glm-4-9b-chat@llm","host":"172.17.0.2","port":8001,"weight":1.0,"check_healthy":true,"healthy":false,"enabled":true,"prompt_template":null,"last_heartbeat":null,"remove_from_registry":false}"#;
    let instance: ModelInstance = serde_json::from_str(body).unwrap();
    assert_eq!(
        instance,
        ModelInstance::new("glm-4-9b-chat@llm", "172.17.0.2", 8001)
    );
}

#[test]
fn minimal_body_takes_defaults_and_ignores_unknown_fields() {
    let instance: ModelInstance =
        serde_json::from_value(json!({"model_name": "m", "host": "h", "port": 1, "sys_code": "x"}))
            .unwrap();
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
    let value = serde_json::to_value(&instance).unwrap();
    let object = value.as_object().unwrap();
    assert_eq!(object.len(), 10);
    assert_eq!(
        object["last_heartbeat"],
        json!("2024-01-01T12:00:00.123456+00:00")
    );
    assert_eq!(
        serde_json::to_value(ModelInstance::new("m", "h", 1)).unwrap()["last_heartbeat"],
        Value::Null
    );
}

#[test]
fn heartbeat_time_reads_dbgpt_forms() {
    let read = |value: Value| {
        let body = json!({"model_name": "m", "host": "h", "port": 1, "last_heartbeat": value});
        serde_json::from_value::<ModelInstance>(body)
            .map(|i| i.last_heartbeat.map(|t| t.timestamp()))
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
    assert!(read(json!("yesterday")).is_err());
}

#[test]
fn port_out_of_range_is_a_deserialisation_error() {
    let result = serde_json::from_value::<ModelInstance>(
        json!({"model_name": "m", "host": "h", "port": 70000}),
    );
    assert!(result.unwrap_err().to_string().contains("70000"));
}

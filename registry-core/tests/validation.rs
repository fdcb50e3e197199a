//! Every way an instance can be invalid is a typed error that names the field.

use registry_core::{
    InMemoryStorage, ModelInstance, ModelInstanceIdentifier, ModelRegistry, StorageModelRegistry,
    ValidInstance, ValidationError,
};
use std::sync::Arc;

fn field_of(result: Result<ModelInstanceIdentifier, ValidationError>) -> &'static str {
    result.expect_err("should be rejected").field()
}

/// Validates a copy of the instance, keeping only the verdict.
fn check(instance: &ModelInstance) -> Result<(), ValidationError> {
    ValidInstance::new(instance.clone()).map(drop)
}

#[test]
fn identifier_rejects_each_bad_part_by_name() {
    assert_eq!(
        field_of(ModelInstanceIdentifier::new("", "h", 1)),
        "model_name"
    );
    assert_eq!(
        field_of(ModelInstanceIdentifier::new("   ", "h", 1)),
        "model_name"
    );
    assert_eq!(field_of(ModelInstanceIdentifier::new("m", "\t", 1)), "host");
    assert_eq!(field_of(ModelInstanceIdentifier::new("m", "h", 0)), "port");
    assert_eq!(
        field_of(ModelInstanceIdentifier::new("m", "h", 65_536)),
        "port"
    );
    assert_eq!(field_of(ModelInstanceIdentifier::new("m", "h", -1)), "port");
    assert_eq!(
        field_of(ModelInstanceIdentifier::new("a___$$$$___b", "h", 1)),
        "model_name"
    );
    assert_eq!(
        field_of(ModelInstanceIdentifier::new("m", "h___$$$$___", 1)),
        "host"
    );
    assert_eq!(
        field_of(ModelInstanceIdentifier::new(&"x".repeat(129), "h", 1)),
        "model_name"
    );
    assert_eq!(
        field_of(ModelInstanceIdentifier::new("m", &"é".repeat(129), 1)),
        "host"
    );
}

#[test]
fn identifier_accepts_limits_and_trims() {
    let id = ModelInstanceIdentifier::new(&" é".repeat(64), " 10.0.0.1\n", 65_535).unwrap();
    assert_eq!(id.model_name().chars().count(), 127);
    assert_eq!(id.host(), "10.0.0.1");
    assert_eq!(id.port(), 65_535);
    assert!(ModelInstanceIdentifier::new(&"x".repeat(128), "h", 1).is_ok());
}

#[test]
fn validation_errors_have_readable_messages() {
    let error = ModelInstanceIdentifier::new("m", "h", 70_000).unwrap_err();
    assert_eq!(
        error.to_string(),
        "port must be between 1 and 65535, got 70000"
    );
    assert_eq!(
        ValidationError::TooLong {
            field: "host",
            chars: 130,
            max: 128
        }
        .to_string(),
        "host is 130 characters long; at most 128 are allowed"
    );
}

#[test]
fn instance_checks_weight_and_prompt_template() {
    let mut instance = ModelInstance::new("m", "h", 1);
    instance.weight = f64::NAN;
    assert_eq!(check(&instance).unwrap_err().field(), "weight");
    instance.weight = 1.0;
    instance.prompt_template = Some("t".repeat(129));
    assert_eq!(check(&instance).unwrap_err().field(), "prompt_template");
}

#[test]
fn control_characters_are_rejected_by_field() {
    for text in ["m\u{0}", "a\u{1}b", "a\nb", "a\tb", "a\u{1F}", "a\u{7F}b"] {
        assert_eq!(
            ModelInstanceIdentifier::new(text, "h", 1),
            Err(ValidationError::ControlCharacter {
                field: "model_name"
            }),
            "{text:?}"
        );
        assert_eq!(
            field_of(ModelInstanceIdentifier::new("m", text, 1)),
            "host",
            "{text:?}"
        );
        let mut instance = ModelInstance::new("m", "h", 1);
        instance.prompt_template = Some(text.to_owned());
        assert_eq!(
            check(&instance),
            Err(ValidationError::ControlCharacter {
                field: "prompt_template"
            }),
            "{text:?}"
        );
    }
    // White space at the ends is trimmed before the check; other characters pass.
    assert!(ModelInstanceIdentifier::new("\tglm@llm\n", "é\u{80}h", 1).is_ok());
    assert_eq!(
        ValidationError::ControlCharacter { field: "host" }.to_string(),
        "host must not contain control characters"
    );
}

#[test]
fn weight_must_be_finite_and_not_negative() {
    let mut instance = ModelInstance::new("m", "h", 1);
    for weight in [-5.0, -0.5, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
        instance.weight = weight;
        assert_eq!(
            check(&instance),
            Err(ValidationError::NotFinite { field: "weight" }),
            "{weight}"
        );
    }
    instance.weight = 0.0;
    assert!(check(&instance).is_ok());
}

#[test]
fn invalid_instances_never_become_valid_instances() {
    // The registry's write calls and the storages take a `ValidInstance`, so an instance that
    // fails here cannot reach them: nothing is stored.
    let bad_key = [
        (ModelInstance::new("", "h", 1), "model_name"),
        (ModelInstance::new("m", " ", 1), "host"),
        (ModelInstance::new("m", "h", 0), "port"),
        (ModelInstance::new("m___$$$$___", "h", 1), "model_name"),
        (ModelInstance::new("x".repeat(200), "h", 1), "model_name"),
        (ModelInstance::new("m\u{0}", "h", 1), "model_name"),
        (ModelInstance::new("m", "h\u{7F}", 1), "host"),
    ];
    // Fields outside the key are checked too.
    let bad_payload = [
        (
            ModelInstance {
                prompt_template: Some("a\u{1B}[31m".to_owned()),
                ..ModelInstance::new("m", "h", 1)
            },
            "prompt_template",
        ),
        (
            ModelInstance {
                weight: -5.0,
                ..ModelInstance::new("m", "h", 1)
            },
            "weight",
        ),
    ];
    for (instance, field) in bad_key.iter().chain(&bad_payload) {
        let error = ValidInstance::new(instance.clone()).expect_err("should be rejected");
        assert_eq!(error.field(), *field, "{instance:?}");
    }
}

#[tokio::test]
async fn registry_trims_model_name_and_host() {
    let registry = StorageModelRegistry::new(Arc::new(InMemoryStorage::new()));
    registry
        .register_instance(valid(&ModelInstance::new("  glm@llm ", " 10.0.0.1 ", 80)))
        .await
        .unwrap();
    registry
        .send_heartbeat(valid(&ModelInstance::new("glm@llm", "10.0.0.1", 80)))
        .await
        .unwrap();
    let all = registry
        .get_all_instances(" glm@llm ", false)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].model_name.as_str(), all[0].host.as_str()),
        ("glm@llm", "10.0.0.1")
    );
}

/// The instance, validated; every instance this test passes is valid.
fn valid(instance: &ModelInstance) -> ValidInstance {
    ValidInstance::new(instance.clone()).expect("a valid instance")
}

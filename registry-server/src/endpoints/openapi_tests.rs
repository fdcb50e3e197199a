use std::collections::HashSet;

use serde_json::Value;

use super::ENDPOINTS;
use crate::openapi::document;

fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => found.push(target),
                    _ => refs(inner, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

#[test]
fn every_endpoint_of_the_route_table_is_described_once() {
    let doc = document(&ENDPOINTS);
    assert_eq!(doc["openapi"], "3.1.0");
    let mut described = 0;
    for endpoint in &ENDPOINTS {
        let method = endpoint.method.as_str().to_ascii_lowercase();
        let operation = &doc["paths"][endpoint.path][method.as_str()];
        assert!(
            operation.is_object(),
            "{} {} is not described",
            endpoint.method,
            endpoint.path
        );
        assert!(
            !operation["summary"].as_str().unwrap_or("").is_empty(),
            "{} has no summary",
            endpoint.path
        );
        assert!(operation["responses"]["200"].is_object());
        described += 1;
    }
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|methods| methods.as_object().unwrap().len())
        .sum();
    assert_eq!(operations, described, "an operation no endpoint serves");
}

#[test]
fn operation_ids_are_unique_and_every_reference_resolves() {
    let doc = document(&ENDPOINTS);
    let mut ids = HashSet::new();
    for methods in doc["paths"].as_object().unwrap().values() {
        for operation in methods.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{target} is not a component schema"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{target} does not resolve"
        );
    }
}

#[test]
fn path_parameters_match_the_templates() {
    let doc = document(&ENDPOINTS);
    for endpoint in &ENDPOINTS {
        let method = endpoint.method.as_str().to_ascii_lowercase();
        let operation = &doc["paths"][endpoint.path][method.as_str()];
        let declared: HashSet<&str> = operation["parameters"]
            .as_array()
            .map(|parameters| {
                parameters
                    .iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| p["name"].as_str().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let templated: HashSet<&str> = endpoint
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(declared, templated, "{}", endpoint.path);
    }
}

#[test]
fn the_answers_follow_each_endpoints_policy() {
    let doc = document(&ENDPOINTS);
    let register = &doc["paths"]["/api/controller/models"]["post"];
    for status in ["401", "403", "413", "422", "503"] {
        assert!(
            register["responses"][status].is_object(),
            "register {status}"
        );
    }
    assert_eq!(
        register["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/InstanceBody"
    );
    let health = &doc["paths"]["/api/health"]["get"];
    assert_eq!(health["security"], serde_json::json!([]));
    assert!(health["responses"]["401"].is_null());
    assert!(health["responses"]["503"].is_null());
}

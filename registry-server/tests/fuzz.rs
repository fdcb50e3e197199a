//! Randomized request parsing: arbitrary bytes, mutated JSON and mangled queries sent to every
//! route never panic the server and never get a 5xx; every error is a JSON object.
//!
//! The generator is seeded, so a failure names the seed and case that reproduce it.

mod common;

use axum::http::StatusCode;
use common::{call, registry, router};
use fastrand::Rng;
use serde_json::{Map, Value, json};

const SEED: u64 = 0x5EED_2026;
const CASES: usize = 1500;
const FIELDS: [&str; 11] = [
    "model_name",
    "host",
    "port",
    "weight",
    "check_healthy",
    "healthy",
    "enabled",
    "prompt_template",
    "last_heartbeat",
    "remove_from_registry",
    "other",
];

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.u8(0..10) {
        0 => Value::Null,
        1 => Value::Bool(rng.bool()),
        2 => json!(rng.i64(..)),
        3 => json!(rng.i64(-2..70_000)),
        4 => json!(rng.f64() * 1e6 - 5e5),
        5 => Value::String(random_text(rng)),
        6 if depth < 3 => Value::Array(
            (0..rng.usize(0..4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        7 if depth < 3 => random_object(rng, depth + 1),
        8 => Value::String(
            [
                "true",
                "false",
                "1",
                "8001",
                "2024-01-01T00:00:00",
                "___$$$$___",
                " ",
            ][rng.usize(0..7)]
            .to_owned(),
        ),
        _ => Value::String("x".repeat(rng.usize(0..300))),
    }
}

fn random_text(rng: &mut Rng) -> String {
    (0..rng.usize(0..20)).map(|_| rng.char(..)).collect()
}

fn random_object(rng: &mut Rng, depth: u32) -> Value {
    let mut map = Map::new();
    for _ in 0..rng.usize(0..12) {
        let key = if rng.u8(0..4) == 0 {
            random_text(rng)
        } else {
            FIELDS[rng.usize(0..FIELDS.len())].to_owned()
        };
        map.insert(key, random_value(rng, depth));
    }
    Value::Object(map)
}

fn random_body(rng: &mut Rng) -> Vec<u8> {
    match rng.u8(0..4) {
        0 => (0..rng.usize(0..200)).map(|_| rng.u8(..)).collect(),
        1 => {
            // Valid JSON cut short or with one byte flipped.
            let mut bytes = random_object(rng, 0).to_string().into_bytes();
            if !bytes.is_empty() {
                let at = rng.usize(0..bytes.len());
                if rng.bool() {
                    bytes.truncate(at)
                } else {
                    bytes[at] = rng.u8(..)
                }
            }
            bytes
        }
        2 => random_value(rng, 0).to_string().into_bytes(),
        _ => random_object(rng, 0).to_string().into_bytes(),
    }
}

fn random_query(rng: &mut Rng) -> String {
    let pieces = [
        "model_name=",
        "host=",
        "port=",
        "healthy_only=",
        "remove_from_registry=",
        "%",
        "%zz",
        "&",
        "=",
        "%00",
        "8001",
        "true",
        "m@llm",
        "+",
        "%E2%82",
    ];
    (0..rng.usize(0..10))
        .map(|_| pieces[rng.usize(0..pieces.len())])
        .collect()
}

#[tokio::test]
async fn random_requests_never_panic_or_fail_the_server() {
    let registry = registry();
    let app = router(&registry, None, 4096);
    let mut rng = Rng::with_seed(SEED);
    for case in 0..CASES {
        let (method, uri, body) = match rng.u8(0..4) {
            0 => (
                "POST",
                "/api/controller/models".to_owned(),
                Some(random_body(&mut rng)),
            ),
            1 => (
                "POST",
                "/api/controller/heartbeat".to_owned(),
                Some(random_body(&mut rng)),
            ),
            2 => (
                "DELETE",
                format!("/api/controller/models?{}", random_query(&mut rng)),
                None,
            ),
            _ => (
                "GET",
                format!("/api/controller/models?{}", random_query(&mut rng)),
                None,
            ),
        };
        let answer = call(&app, method, &uri, body.as_deref(), &[]).await;
        let context = format!("seed {SEED:#x} case {case}: {method} {uri}");
        assert!(
            answer.status == StatusCode::OK || answer.status.is_client_error(),
            "{context}: {}",
            answer.status
        );
        if answer.status != StatusCode::OK {
            assert!(
                common::error_text(&answer.json).is_some(),
                "{context}: {}",
                answer.text
            );
        }
    }
    // Whatever was accepted is still listable.
    let answer = call(&app, "GET", "/api/controller/models", None, &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
}

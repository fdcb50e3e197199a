//! The request sequence both controllers answer: registers (floats, Unicode, a timestamp),
//! listings, a heartbeat, a health check, deregisters, a malformed body, a body missing its
//! fields, unknown paths and methods, our own endpoints; with no trace header and with each of
//! its forms (DB-GPT's 32:16 hex ids, short hex ids, hyphenated UUIDs).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::harness::http::{Connection, Request};

const HEADER: &str = "DB-GPT-Trace-Span-Id";
const HEX_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7";
const SHORT_ID: &str = "abc:def";
const UUID_ID: &str = "1c4c2b36-7bb5-4a3a-9a3d-6a1f2f0b8e11:2b8f6e0a-3c1d-4e5f-8a9b-0c1d2e3f4a5b";

const MODELS: &str = "/api/controller/models";

struct Step {
    method: &'static str,
    path: &'static str,
    header: Option<&'static str>,
    body: Option<&'static str>,
}

const fn step(
    method: &'static str,
    path: &'static str,
    header: Option<&'static str>,
    body: Option<&'static str>,
) -> Step {
    Step {
        method,
        path,
        header,
        body,
    }
}

const STEPS: &[Step] = &[
    step(
        "POST",
        MODELS,
        None,
        Some(
            r#"{"model_name":"chatglm@llm","host":"10.0.0.1","port":8001,"weight":2,"prompt_template":"模板 é","last_heartbeat":"2024-01-01T12:00:00"}"#,
        ),
    ),
    step(
        "POST",
        MODELS,
        Some(HEX_ID),
        Some(
            r#"{"model_name":"text2vec@embedding","host":"10.0.0.2","port":8002,"weight":1e-05,"check_healthy":false}"#,
        ),
    ),
    step(
        "POST",
        MODELS,
        Some(SHORT_ID),
        Some(
            r#"{"model_name":"big@llm","host":"10.0.0.3","port":8003,"weight":1e16,"healthy":true}"#,
        ),
    ),
    step("GET", MODELS, None, None),
    step(
        "GET",
        "/api/controller/models?model_name=chatglm@llm&healthy_only=true",
        Some(UUID_ID),
        None,
    ),
    step(
        "POST",
        "/api/controller/heartbeat",
        Some(HEX_ID),
        Some(r#"{"model_name":"chatglm@llm","host":"10.0.0.1","port":8001}"#),
    ),
    step("GET", "/api/health", None, None),
    step(
        "DELETE",
        "/api/controller/models?model_name=text2vec@embedding&host=10.0.0.2&port=8002",
        Some("1F:0"),
        None,
    ),
    step(
        "DELETE",
        "/api/controller/models?model_name=big@llm&host=10.0.0.3&port=8003&remove_from_registry=true",
        Some(UUID_ID),
        None,
    ),
    step("POST", MODELS, Some(HEX_ID), Some(r#"{"model_name": "x""#)),
    step("POST", MODELS, None, Some(r#"{"model_name":"x"}"#)),
    step("GET", "/api/no/such%20path", Some(HEX_ID), None),
    step("PUT", MODELS, Some(SHORT_ID), None),
    step("GET", "/metrics", None, None),
    step("GET", "/v1/models", None, None),
    step("GET", "/nowhere", None, None),
];

/// Sends the sequence to the server at `address`, one request at a time; returns each answer's
/// status, for the report.
pub(super) fn send(address: SocketAddr) -> Result<Vec<u16>> {
    let mut statuses = Vec::with_capacity(STEPS.len());
    for step in STEPS {
        // A fresh connection each time: a server may close one after an error answer.
        let mut connection = Connection::open(address, Duration::from_secs(10))?;
        let header;
        let headers: &[(&str, &str)] = match step.header {
            Some(value) => {
                header = [(HEADER, value)];
                &header
            }
            None => &[],
        };
        let response = connection
            .request(&Request {
                method: step.method,
                path: step.path,
                headers,
                body: step.body.map(|body| ("application/json", body.as_bytes())),
            })
            .with_context(|| format!("{} {} to {address}", step.method, step.path))?;
        statuses.push(response.status);
    }
    Ok(statuses)
}

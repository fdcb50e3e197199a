//! Requests no client should send: a body announced far beyond the limit, and control
//! characters, negative weights, wrong content types and cross-site origins.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::Suite;
use super::fixture::{Storage, Store, register_body, timed};
use super::raw::RawConnection;
use super::report::Report;
use crate::harness::http::{Request, Response};

/// registry-server's operator write route (`registry_server::ops::SETTINGS_PATH`).
const SETTINGS_PATH: &str = "/api/controller/models/settings";

/// 3. `Content-Length: 100000000` and no body, on every route.
pub(crate) fn oversized(suite: &Suite, storage: Storage, report: &mut Report) -> Result<()> {
    const BOUND: Duration = Duration::from_secs(1);
    let store = Store::new(storage, "oversized")?;
    let server = store.start(suite, &[])?;
    let routes = [
        ("POST", "/api/controller/models"),
        ("POST", "/api/controller/heartbeat"),
        (
            "DELETE",
            "/api/controller/models?model_name=m&host=h&port=1",
        ),
        ("GET", "/api/controller/models"),
        ("POST", SETTINGS_PATH),
        ("GET", "/api/health"),
    ];
    for (method, path) in routes {
        // Twice the bound: long enough to tell a late answer from none.
        let mut connection = RawConnection::open(server.address, 2 * BOUND)?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
            server.address
        );
        let begun = Instant::now();
        connection.write(head.as_bytes())?;
        let answer = connection.read_status();
        let took = begun.elapsed();
        let what = format!("{method} {path}");
        match answer {
            Ok(status) => {
                report.holds(&what, &format!("answered {status}"), "413", status == 413);
                report.within(&format!("{what} answered in"), took, BOUND);
            }
            Err(error) => report.holds(
                &what,
                &format!("no answer after {} ms ({error})", took.as_millis()),
                "413",
                false,
            ),
        }
    }
    Ok(())
}

/// The control characters every text field must refuse, as they appear in JSON.
const CONTROL_CHARACTERS: [(char, &str); 3] = [
    ('\u{0}', "\\u0000"),
    ('\u{1f}', "\\u001f"),
    ('\u{7f}', "\\u007f"),
];

/// 7. Malformed input is refused with 422 naming the field, on every backend.
pub(crate) fn bad_input(suite: &Suite, storage: Storage, report: &mut Report) -> Result<()> {
    let store = Store::new(storage, "bad-input")?;
    let server = store.start(suite, &[])?;
    let send = |request: &Request<'_>| -> Result<Response> {
        timed(server.address, request, Duration::from_secs(15)).1
    };
    let post = |body: &str| {
        send(&Request {
            method: "POST",
            path: "/api/controller/models",
            headers: &[],
            body: Some(("application/json", body.as_bytes())),
        })
    };
    let control = post(&register_body("clean-model", "10.0.0.1", 8000))?;
    report.holds(
        "a clean registration",
        &format!("answered {}", control.status),
        "200",
        control.status == 200,
    );
    for field in ["model_name", "host", "prompt_template"] {
        for (character, shown) in CONTROL_CHARACTERS {
            let mut body = serde_json::json!({
                "model_name": "m", "host": "10.0.0.2", "port": 8001, "prompt_template": "t"
            });
            body[field] = serde_json::Value::String(format!("a{character}b"));
            let answer = post(&body.to_string())?;
            expect_field_error(report, &format!("{field} holding {shown}"), &answer, field);
        }
    }
    for (method, path) in [
        ("GET", "/api/controller/models?model_name=a%00b"),
        (
            "DELETE",
            "/api/controller/models?model_name=a%00b&host=10.0.0.1&port=8000",
        ),
    ] {
        let answer = send(&Request {
            method,
            path,
            headers: &[],
            body: None,
        })?;
        expect_field_error(report, &format!("{method} {path}"), &answer, "model_name");
    }
    let negative = post(r#"{"model_name":"m","host":"10.0.0.3","port":8002,"weight":-5}"#)?;
    report.holds(
        "weight -5",
        &format!("answered {}", negative.status),
        "422",
        negative.status == 422,
    );
    let plain = send(&Request {
        method: "POST",
        path: "/api/controller/heartbeat",
        headers: &[],
        body: Some((
            "text/plain",
            register_body("plain-model", "10.0.0.4", 8003).as_bytes(),
        )),
    })?;
    report.holds(
        "a heartbeat sent as text/plain",
        &format!("answered {}", plain.status),
        "4xx",
        (400..500).contains(&plain.status),
    );
    let cross_site = send(&Request {
        method: "POST",
        path: "/api/controller/models",
        headers: &[("Origin", "http://evil.example")],
        body: Some((
            "application/json",
            register_body("evil-model", "10.0.0.5", 8004).as_bytes(),
        )),
    })?;
    report.holds(
        "a registration with Origin: http://evil.example",
        &format!("answered {}", cross_site.status),
        "403",
        cross_site.status == 403,
    );
    let listed = send(&super::fixture::get("/api/controller/models"))
        .context("listing after the refused writes")?;
    let stored: Vec<serde_json::Value> = serde_json::from_str(&listed.body).unwrap_or_default();
    report.holds(
        "instances stored after one clean and many refused writes:",
        &stored.len().to_string(),
        "1",
        stored.len() == 1,
    );
    Ok(())
}

/// A 422 whose FastAPI-shaped body names `field` (`detail[0].loc[1]`).
fn expect_field_error(report: &mut Report, what: &str, answer: &Response, field: &str) {
    let named = serde_json::from_str::<serde_json::Value>(&answer.body)
        .ok()
        .and_then(|body| body["detail"][0]["loc"][1].as_str().map(str::to_owned));
    report.holds(
        what,
        &format!(
            "answered {} naming {}",
            answer.status,
            named.as_deref().unwrap_or("no field")
        ),
        &format!("422 naming {field}"),
        answer.status == 422 && named.as_deref() == Some(field),
    );
}

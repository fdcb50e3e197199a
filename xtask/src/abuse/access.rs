//! The token: what unauthenticated clients can make the server store, and the ways a
//! client may present it.

use std::time::Duration;

use anyhow::Result;
use base64::Engine as _;
use registry_testkit::server::Starting;

use super::Suite;
use super::fixture::{Storage, Store, register_body, timed};
use super::report::Report;
use crate::harness::http::{Connection, Request};
use crate::harness::server::{free_address, serve_command};

const TOKEN: &str = "abuse-token";

/// 4. 2,000 unauthenticated GETs of a 60,000-character path: bounded spans and memory.
pub(crate) fn span_amplification(
    suite: &Suite,
    storage: Storage,
    report: &mut Report,
) -> Result<()> {
    const REQUESTS: usize = 2_000;
    const PATH_LENGTH: usize = 60_000;
    const THREADS: usize = 4;
    let store = Store::new(storage, "span-amplification")?;
    let server = store.start(suite, &["--token", TOKEN, "--span-flush-interval", "100ms"])?;
    let spans = store.span_file();
    let span_bytes = || std::fs::metadata(&spans).map_or(0, |m| m.len());
    std::thread::sleep(Duration::from_millis(300));
    let (bytes_before, rss_before) = (span_bytes(), server.rss_kib()?);
    let prefix = "/api/traces/";
    let path = format!("{prefix}{}", "a".repeat(PATH_LENGTH - prefix.len()));
    let address = server.address;
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || -> Result<Vec<u16>> {
                let mut statuses = Vec::new();
                let mut connection = None;
                for _ in 0..REQUESTS / THREADS {
                    let mut open = match connection.take() {
                        Some(open) => open,
                        None => Connection::open(address, Duration::from_secs(10))?,
                    };
                    // A server may close after an error answer: reconnect and go on.
                    if let Ok(answer) = open.get(&path) {
                        statuses.push(answer.status);
                        connection = Some(open);
                    } else {
                        statuses.push(0);
                    }
                }
                Ok(statuses)
            })
        })
        .collect();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for thread in threads {
        for status in thread
            .join()
            .map_err(|_| anyhow::anyhow!("a sender panicked"))??
        {
            *statuses.entry(status).or_default() += 1;
        }
    }
    report.note(&format!(
        "{REQUESTS} GETs of a {PATH_LENGTH}-character path answered (status: count; 0 is no answer) {statuses:?}"
    ));
    // The spans are flushed every 100 ms; give the writer time to catch up.
    std::thread::sleep(Duration::from_secs(1));
    let (bytes_after, rss_after) = (span_bytes(), server.rss_kib()?);
    report.note(&format!(
        "span file {bytes_before} bytes before, {bytes_after} after; RSS {} KiB before, {rss_after} KiB after",
        rss_before
    ));
    report.at_most(
        "span file growth",
        bytes_after.saturating_sub(bytes_before) as f64 / 1_000_000.0,
        5.0,
        "MB",
    );
    report.at_most(
        "server RSS growth",
        rss_after.saturating_sub(rss_before) as f64 / 1024.0,
        64.0,
        "MiB",
    );
    // The control: an authenticated write is traced, so a span file that did not grow above
    // is bounded, not switched off.
    let body = register_body("traced-model", "10.0.0.1", 8000);
    let bearer = format!("Bearer {TOKEN}");
    let (_, answer) = timed(
        server.address,
        &Request {
            method: "POST",
            path: "/api/controller/models",
            headers: &[("Authorization", bearer.as_str())],
            body: Some(("application/json", body.as_bytes())),
        },
        Duration::from_secs(10),
    );
    let status = answer?.status;
    std::thread::sleep(Duration::from_secs(1));
    let traced = span_bytes().saturating_sub(bytes_after);
    report.holds(
        "an authenticated registration afterwards",
        &format!("answered {status} and added {traced} bytes of spans"),
        "200 and more than 0 bytes",
        status == 200 && traced > 0,
    );
    Ok(())
}

/// 12. Basic authentication with the token as password, and `--auth-reads` with no token.
pub(crate) fn auth(suite: &Suite, storage: Storage, report: &mut Report) -> Result<()> {
    let store = Store::new(storage, "auth")?;
    let server = store.start(suite, &["--token", TOKEN])?;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("registry:{TOKEN}"))
    );
    for (what, headers, expected) in [
        (
            "a registration with Basic auth (registry:TOKEN)",
            vec![("Authorization", basic.as_str())],
            200,
        ),
        ("a registration without credentials", vec![], 401),
    ] {
        let body = register_body("auth-model", "10.0.0.1", 8000);
        let (_, answer) = timed(
            server.address,
            &Request {
                method: "POST",
                path: "/api/controller/models",
                headers: &headers,
                body: Some(("application/json", body.as_bytes())),
            },
            Duration::from_secs(10),
        );
        let status = answer?.status;
        report.holds(
            what,
            &format!("answered {status}"),
            &expected.to_string(),
            status == expected,
        );
    }
    drop(server);

    // --auth-reads without a token would leave reads open while claiming to protect them.
    let address = free_address()?;
    let mut command = serve_command(suite.binary(), &[], address);
    command
        .args([
            "--storage-url",
            "memory",
            "--span-file",
            "off",
            "--auth-reads",
        ])
        .env_remove("REGISTRY_TOKEN");
    let mut refused = Starting::spawn(command)?;
    let exit = refused.wait_exit(Duration::from_secs(5))?;
    // Once it has exited, its stderr is read to the end.
    let message = match exit {
        Some(_) => refused.exit(Duration::from_secs(30)).1,
        None => refused.stderr(),
    };
    let names_setting = ["auth-reads", "auth_reads", "AUTH_READS"]
        .iter()
        .any(|name| message.contains(name));
    let observed = match exit {
        None => "still running after 5 s".to_owned(),
        Some(status) => format!(
            "exited with {status}, {} the setting",
            if names_setting {
                "naming"
            } else {
                "not naming"
            }
        ),
    };
    report.holds(
        "serve --auth-reads without --token",
        &observed,
        "non-zero exit naming auth-reads",
        exit.is_some_and(|status| !status.success()) && names_setting,
    );
    Ok(())
}

//! The dashboard in a real browser: headless Chromium driven through chromedriver's WebDriver
//! HTTP protocol, against the real server binary. It sees a registered instance appear, turn
//! unhealthy once its heartbeats stop, and disables it with a click, checked through the API.
//!
//! Needs the Debian packages `chromium` and `chromium-driver`. Without them the test prints
//! `SKIPPED: chromium not installed` and passes, unless `REGISTRY_E2E_REQUIRE_BROWSER=1`
//! (set by `cargo xtask e2e`), where a missing browser fails it.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use common::server::{eventually, start};
use registry_testkit::http::{Client, Request};
use serde_json::{Value, json};

const TOKEN: &str = "e2e-token";
const MODEL: &str = "e2e-model";
const PORT: u16 = 9001;
const DEADLINE: Duration = Duration::from_secs(60);
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// chromedriver on a free port, killed on drop.
struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(program: &Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        eventually(DEADLINE, || {
            std::net::TcpStream::connect(driver.addr).is_ok()
                && driver.call("GET", "/status", None)["ready"] == true
        });
        driver
    }

    /// One WebDriver command; answers its `value`. Panics on a WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|error| panic!("{path}: {error}"))
    }

    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let body = body.map(|b| b.to_string());
        let (status, text) = webdriver_http(self.addr, method, path, body.as_deref());
        let answer: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        if status != 200 {
            return Err(format!("HTTP {status}: {}", answer["value"]));
        }
        Ok(answer["value"].clone())
    }
}

struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    fn path(&self, tail: &str) -> String {
        format!("/session/{}{tail}", self.id)
    }

    fn script(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.driver
            .call("POST", &self.path("/execute/sync"), Some(body))
    }

    fn click(&self, selector: &str) -> Result<(), String> {
        let body = json!({"using": "css selector", "value": selector});
        let found = self
            .driver
            .try_call("POST", &self.path("/element"), Some(body))?;
        let element = found[ELEMENT].as_str().ok_or("no element id")?.to_owned();
        self.driver
            .try_call(
                "POST",
                &self.path(&format!("/element/{element}/click")),
                Some(json!({})),
            )
            .map(drop)
    }

    fn type_into(&self, selector: &str, text: &str) {
        let body = json!({"using": "css selector", "value": selector});
        let found = self.driver.call("POST", &self.path("/element"), Some(body));
        let element = found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{found}"))
            .to_owned();
        let path = self.path(&format!("/element/{element}/value"));
        self.driver.call("POST", &path, Some(json!({"text": text})));
    }

    /// `healthy|enabled` of the instance's row, or `null` while the page does not show it.
    fn row_state(&self) -> Value {
        self.script(&format!(
            "const r = document.querySelector('[data-instance=\"{MODEL}@127.0.0.1:{PORT}\"]');\
             return r ? r.dataset.healthy + '|' + r.dataset.enabled : null;"
        ))
    }

    fn wait_for_row(&self, want: &str) {
        let mut last = Value::Null;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            eventually(DEADLINE, || {
                last = self.row_state();
                last == want
            })
        }));
        assert!(result.is_ok(), "row never became {want}; last {last}");
    }
}

/// One request to chromedriver, always with a JSON content type (an empty body where the
/// command has none).
fn webdriver_http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let answer = Client::with_timeout(addr, Duration::from_secs(60))
        .send(&Request {
            method,
            path,
            headers: &[],
            body: Some(("application/json", body.unwrap_or("").as_bytes())),
        })
        .unwrap_or_else(|e| panic!("{method} {path} on chromedriver: {e}"));
    (answer.status, answer.body)
}

#[test]
fn dashboard_shows_an_instance_turn_unhealthy_and_disables_it() {
    let required = std::env::var("REGISTRY_E2E_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let browser = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let driver_program = find_program(&["chromedriver"]);
    let (Some(browser), Some(driver_program)) = (browser, driver_program) else {
        assert!(
            !required,
            "chromium or chromedriver not installed (apt-get install chromium chromium-driver)"
        );
        println!("SKIPPED: chromium not installed");
        return;
    };
    let server = start(
        &[
            "--storage-url",
            "memory",
            "--span-file",
            "off",
            "--token",
            TOKEN,
            "--heartbeat-interval",
            "200ms",
            "--heartbeat-timeout",
            "1s",
        ],
        &[],
    );
    let auth = format!("Bearer {TOKEN}");
    let body = json!({"model_name": MODEL, "host": "127.0.0.1", "port": PORT}).to_string();
    let headers = [("Authorization", auth.as_str())];
    let (status, _) =
        server
            .client()
            .request_with("POST", "/api/controller/models", Some(&body), &headers);
    assert_eq!(status, 200);
    // The worker keeps beating until the page has shown it healthy.
    let beating = Arc::new(AtomicBool::new(true));
    let worker = {
        let (beating, client, body, auth) = (
            Arc::clone(&beating),
            server.client().clone(),
            body.clone(),
            auth.clone(),
        );
        std::thread::spawn(move || {
            while beating.load(Ordering::Relaxed) {
                let headers = [("Authorization", auth.as_str())];
                client.request_with("POST", "/api/controller/heartbeat", Some(&body), &headers);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    let driver = Driver::start(&driver_program);
    let profile = tempfile::tempdir().unwrap();
    let args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--window-size=1280,900".to_owned(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    let capabilities = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": browser, "args": args},
    }}});
    let created = driver.call("POST", "/session", Some(capabilities));
    let session = Session {
        driver: &driver,
        id: created["sessionId"].as_str().unwrap().to_owned(),
    };

    let url = format!("http://{}/", server.addr);
    driver.call("POST", &session.path("/url"), Some(json!({"url": url})));
    session.type_into("#token-input", TOKEN);
    session.click("#token-save").unwrap();
    session.wait_for_row("true|true");
    println!("the page shows the instance, healthy");

    beating.store(false, Ordering::Relaxed);
    worker.join().unwrap();
    session.wait_for_row("false|true");
    println!("the page shows the instance unhealthy after its heartbeat timeout");

    let disable =
        format!("[data-instance=\"{MODEL}@127.0.0.1:{PORT}\"] button[data-action=\"disable\"]");
    // The table is redrawn on every change; a click on a row just replaced is retried.
    eventually(DEADLINE, || session.click(&disable).is_ok());
    session.wait_for_row("false|false");
    let (status, listed) = server.request("GET", "/api/controller/models", None);
    assert_eq!(status, 200);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["enabled"], false, "{listed}");
    println!("disabled from the page; the API agrees");

    let shot = base64::engine::general_purpose::STANDARD
        .decode(
            session
                .driver
                .call("GET", &session.path("/screenshot"), None)
                .as_str()
                .unwrap(),
        )
        .expect("a base64 screenshot");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dashboard.png");
    std::fs::write(&path, shot).unwrap();
    println!(
        "screenshot: {}",
        path.canonicalize().unwrap_or(path).display()
    );

    // The API page renders the server's own description, every operation of it.
    let docs = format!("http://{}/docs", server.addr);
    driver.call("POST", &session.path("/url"), Some(json!({"url": docs})));
    let mut rendered = Value::Null;
    let ready = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        eventually(DEADLINE, || {
            rendered = session.script(
                "const s = document.getElementById('status');\
                 return s.dataset.state === 'ready' ? document.querySelectorAll('section.operation').length : null;",
            );
            !rendered.is_null()
        })
    }));
    assert!(ready.is_ok(), "the API page never rendered");
    let (status, described) = server.request("GET", "/openapi.json", None);
    assert_eq!(status, 200);
    let described: Value = serde_json::from_str(&described).unwrap();
    let operations: usize = described["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|methods| methods.as_object().unwrap().len())
        .sum();
    assert_eq!(rendered, json!(operations), "operations rendered");
    assert_eq!(
        session.script("return document.getElementById('heartbeat') !== null;"),
        json!(true)
    );
    println!("the API page renders all {operations} operations");
    let _ = driver.try_call("DELETE", &session.path(""), None);
}

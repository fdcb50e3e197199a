//! Headless Chromium through chromedriver's WebDriver HTTP protocol: just the commands the
//! browser tests use.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use registry_testkit::http::{Client, Request};
use serde_json::{Value, json};

use super::server::eventually;

/// How long any one wait in the browser tests may take.
pub const DEADLINE: Duration = Duration::from_secs(60);
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
        let answer = Client::with_timeout(self.addr, Duration::from_secs(120))
            .send(&Request {
                method,
                path,
                headers: &[],
                body: Some(("application/json", body.as_deref().unwrap_or("").as_bytes())),
            })
            .unwrap_or_else(|e| panic!("{method} {path} on chromedriver: {e}"));
        let value: Value =
            serde_json::from_str(&answer.body).map_err(|e| format!("{e}: {}", answer.body))?;
        if answer.status != 200 {
            return Err(format!("HTTP {}: {}", answer.status, value["value"]));
        }
        Ok(value["value"].clone())
    }
}

/// A browser window: chromedriver, its Chromium and one session; closed on drop.
pub struct Browser {
    driver: Driver,
    id: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.try_call("DELETE", &self.path(""), None);
    }
}

impl Browser {
    /// A headless window, or `None` (after printing why) where Chromium is not installed and
    /// `REGISTRY_E2E_REQUIRE_BROWSER=1` is not set; with it set, a missing browser fails.
    pub fn open() -> Option<Browser> {
        let required = std::env::var("REGISTRY_E2E_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        let browser = find_program(&["chromium", "chromium-browser", "google-chrome"]);
        let driver_program = find_program(&["chromedriver"]);
        let (Some(browser), Some(driver_program)) = (browser, driver_program) else {
            assert!(
                !required,
                "chromium or chromedriver not installed (apt-get install chromium chromium-driver)"
            );
            println!("SKIPPED: chromium not installed");
            return None;
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
            "--window-size=1280,1000".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": browser, "args": args},
        }}});
        let created = driver.call("POST", "/session", Some(capabilities));
        let id = created["sessionId"].as_str().unwrap().to_owned();
        Some(Browser {
            driver,
            id,
            _profile: profile,
        })
    }

    fn path(&self, tail: &str) -> String {
        format!("/session/{}{tail}", self.id)
    }

    /// Loads `url` and waits for its load event.
    pub fn goto(&self, url: &str) {
        self.driver
            .call("POST", &self.path("/url"), Some(json!({"url": url})));
    }

    /// Runs `script` in the page; answers what it returns.
    pub fn script(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.driver
            .call("POST", &self.path("/execute/sync"), Some(body))
    }

    /// Runs `script` in the page with a callback as its last argument; answers what it passes.
    pub fn async_script(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.driver
            .call("POST", &self.path("/execute/async"), Some(body))
    }

    fn element(&self, selector: &str) -> Result<String, String> {
        let body = json!({"using": "css selector", "value": selector});
        let found = self
            .driver
            .try_call("POST", &self.path("/element"), Some(body))?;
        found[ELEMENT]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no element id in {found}"))
    }

    /// Clicks the first element `selector` finds; an error while it is missing or replaced.
    pub fn click(&self, selector: &str) -> Result<(), String> {
        let element = self.element(selector)?;
        self.driver
            .try_call(
                "POST",
                &self.path(&format!("/element/{element}/click")),
                Some(json!({})),
            )
            .map(drop)
    }

    /// Clears the first element `selector` finds and types `text` into it.
    pub fn type_into(&self, selector: &str, text: &str) -> Result<(), String> {
        let element = self.element(selector)?;
        let clear = self.path(&format!("/element/{element}/clear"));
        self.driver.try_call("POST", &clear, Some(json!({})))?;
        if text.is_empty() {
            return Ok(());
        }
        let path = self.path(&format!("/element/{element}/value"));
        self.driver
            .try_call("POST", &path, Some(json!({"text": text})))
            .map(drop)
    }

    /// `healthy|enabled` of the instance's row, or `null` while the page does not show it.
    pub fn row_state(&self, instance: &str) -> Value {
        self.script(&format!(
            "const r = document.querySelector('[data-instance=\"{instance}\"]');\
             return r ? r.dataset.healthy + '|' + r.dataset.enabled : null;"
        ))
    }

    /// Waits until the instance's row shows `healthy|enabled` as `want`.
    pub fn wait_for_row(&self, instance: &str, want: &str) {
        self.wait_for(&format!("row {instance} is {want}"), || {
            self.row_state(instance) == want
        });
    }

    /// Waits until `check` holds, up to the deadline; fails naming `what`.
    pub fn wait_for(&self, what: &str, mut check: impl FnMut() -> bool) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            eventually(DEADLINE, &mut check)
        }));
        assert!(result.is_ok(), "never: {what}");
    }

    /// Clicks `selector` once it is there (rows are redrawn on every change).
    pub fn click_when_there(&self, selector: &str) {
        self.wait_for(&format!("click {selector}"), || {
            self.click(selector).is_ok()
        });
    }

    /// Saves a PNG of the window under `target/e2e/NAME`; answers its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let shot = base64::engine::general_purpose::STANDARD
            .decode(
                self.driver
                    .call("GET", &self.path("/screenshot"), None)
                    .as_str()
                    .unwrap(),
            )
            .expect("a base64 screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/e2e");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, shot).unwrap();
        path.canonicalize().unwrap_or(path)
    }
}

//! A small Chrome DevTools Protocol client for the browser tests: headless
//! Chromium started with `--remote-debugging-port=0`, one WebSocket
//! (tokio-tungstenite) to it, flat sessions per page. Enough to open a
//! page at a width, evaluate script, wait on a condition, click an element
//! with the mouse (Input.dispatchMouseEvent, as a person does) and take a
//! full-page screenshot.
//!
//! Four protocol domains are all it takes, so this is a page of code
//! rather than a crate that generates every domain's types (chromiumoxide
//! builds for minutes on a two-core machine; headless_chrome adds a second,
//! blocking WebSocket stack).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Browser {
    child: Child,
    ws: Socket,
    next_id: u64,
    _profile: tempfile::TempDir,
}

/// A page: its session.
pub struct Page {
    session: String,
}

impl Browser {
    /// Starts Chromium headless, with the flags this machine's closed
    /// network needs and a fresh profile.
    pub async fn launch(exe: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(exe)
            .args(crate::browser::HEADLESS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let url = rx.recv_timeout(Duration::from_secs(60)).expect("chromium says where its DevTools listen");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("the DevTools socket");
        Browser { child, ws, next_id: 0, _profile: profile }
    }

    /// Sends a command and waits for its answer (events in between are
    /// dropped); panics on a protocol error.
    pub async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::text(msg.to_string())).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                let m = self.ws.next().await.expect("the DevTools socket stays open").unwrap();
                let Message::Text(t) = m else { continue };
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                if v["id"] == id {
                    return v;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{method}: no answer"));
        assert!(answer.get("error").is_none(), "{method}: {}", answer["error"]);
        answer["result"].clone()
    }

    /// Opens `url` in a new page `width` pixels wide.
    pub async fn open(&mut self, url: &str, width: u32) -> Page {
        let t = self.call(None, "Target.createTarget", json!({ "url": "about:blank" })).await;
        let target = t["targetId"].as_str().unwrap().to_string();
        let a = self.call(None, "Target.attachToTarget", json!({ "targetId": target, "flatten": true })).await;
        let page = Page { session: a["sessionId"].as_str().unwrap().to_string() };
        self.size(&page, width, 900).await;
        self.call(Some(&page.session), "Page.enable", json!({})).await;
        self.call(Some(&page.session), "Page.navigate", json!({ "url": url })).await;
        page
    }

    async fn size(&mut self, page: &Page, width: u32, height: u32) {
        let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false });
        self.call(Some(&page.session), "Emulation.setDeviceMetricsOverride", metrics).await;
    }

    /// Evaluates `expr` in the page; its value.
    pub async fn eval(&mut self, page: &Page, expr: &str) -> Value {
        let r = self
            .call(
                Some(&page.session),
                "Runtime.evaluate",
                json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Evaluates `expr` until it is truthy, within `limit`; its value.
    pub async fn wait_for(&mut self, page: &Page, expr: &str, limit: Duration) -> Value {
        let waited = tokio::time::timeout(limit, async {
            loop {
                let v = self.eval(page, expr).await;
                if !(v.is_null() || v == false || v == "" || v == 0) {
                    return v;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("waited {limit:?} for {expr}"))
    }

    /// Clicks the middle of the element `selector` with the mouse.
    pub async fn click(&mut self, page: &Page, selector: &str) {
        let expr = format!(
            "(() => {{ const e = document.querySelector({}); e.scrollIntoView({{block: 'center'}}); \
             const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()",
            json!(selector)
        );
        let at = self.eval(page, &expr).await;
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            let e = json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 });
            self.call(Some(&page.session), "Input.dispatchMouseEvent", e).await;
        }
    }

    /// A screenshot of the whole page at `width`, as PNG bytes.
    pub async fn screenshot(&mut self, page: &Page, width: u32) -> Vec<u8> {
        self.size(page, width, 900).await;
        let h = self.eval(page, "document.documentElement.scrollHeight").await.as_u64().unwrap_or(900);
        self.size(page, width, h.clamp(600, 6000) as u32).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let shot = self.call(Some(&page.session), "Page.captureScreenshot", json!({ "format": "png" })).await;
        base64(shot["data"].as_str().unwrap())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64, as the protocol sends binary data.
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| *c != b'=' && !c.is_ascii_whitespace()).map(value).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes() {
    assert_eq!(base64("aGVsbG8="), b"hello");
    assert_eq!(base64("aGVsbG8h"), b"hello!");
    assert_eq!(base64("aGk="), b"hi");
}

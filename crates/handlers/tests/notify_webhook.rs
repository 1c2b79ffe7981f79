//! The notification outbox against a real webhook on loopback: a receiver that is down loses
//! nothing, retries wait their backoff on the injected clock, and the message arrives once the
//! receiver is back.

mod common;
use common::*;

use chrono::Duration;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tradai_embedded::notify::WebhookChannel;

/// A webhook receiver on loopback that answers 503 while `down` is set, 200 otherwise, and keeps
/// the JSON bodies it accepted.
struct Receiver {
    url: String,
    down: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<Value>>>,
    attempts: Arc<Mutex<usize>>,
}

async fn receiver() -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/alerts", listener.local_addr().unwrap());
    let down = Arc::new(AtomicBool::new(true));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let attempts = Arc::new(Mutex::new(0));
    let (d, a, n) = (down.clone(), accepted.clone(), attempts.clone());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut raw = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then as many body bytes as content-length says.
            let body = loop {
                let Ok(k) = sock.read(&mut chunk).await else {
                    break None;
                };
                if k == 0 {
                    break None;
                }
                raw.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&raw).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + len {
                        break Some(raw[end + 4..end + 4 + len].to_vec());
                    }
                }
            };
            *n.lock().unwrap() += 1;
            let status = if d.load(Ordering::SeqCst) {
                "503 Service Unavailable"
            } else {
                if let Some(b) = body {
                    a.lock()
                        .unwrap()
                        .push(serde_json::from_slice(&b).unwrap_or(Value::Null));
                }
                "200 OK"
            };
            let reply =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });
    Receiver {
        url,
        down,
        accepted,
        attempts,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_that_is_down_gets_the_alert_when_it_is_back() {
    let rx = receiver().await;
    let mut e = env();
    e.ctx.channels = vec![Arc::new(WebhookChannel::new(
        &rx.url,
        std::time::Duration::from_secs(5),
    ))];
    let out = tradai_handlers::invoke(
        &e.ctx,
        "notify",
        json!({"notification_type": "DRIFT_DETECTED", "title": "Significant drift on M",
               "message": "PSI=0.41", "severity": "CRITICAL", "model_name": "M"}),
    )
    .await
    .unwrap();
    assert_eq!(out["channels"], json!({"webhook": "queued"}), "{out}");
    assert_eq!(*rx.attempts.lock().unwrap(), 1);
    assert_eq!(
        tradai_handlers::notify::pending(&e.ctx)
            .await
            .unwrap()
            .len(),
        1
    );

    // Still down when the retry is due: attempted again, kept, backoff grows.
    e.clock.advance(Duration::seconds(30));
    assert_eq!(tradai_handlers::notify::pump(&e.ctx).await.unwrap(), 0);
    assert_eq!(*rx.attempts.lock().unwrap(), 2);
    let p = tradai_handlers::notify::pending(&e.ctx).await.unwrap();
    assert_eq!(p[0].attempts, 2);

    // Back up, but the next retry is not due yet: nothing is sent early.
    rx.down.store(false, Ordering::SeqCst);
    e.clock.advance(Duration::seconds(30));
    assert_eq!(tradai_handlers::notify::pump(&e.ctx).await.unwrap(), 0);
    assert_eq!(*rx.attempts.lock().unwrap(), 2);

    // Due: delivered once, the outbox is empty, and a further pump sends nothing again.
    e.clock.advance(Duration::seconds(31));
    assert_eq!(tradai_handlers::notify::pump(&e.ctx).await.unwrap(), 1);
    assert!(
        tradai_handlers::notify::pending(&e.ctx)
            .await
            .unwrap()
            .is_empty()
    );
    e.clock.advance(Duration::hours(1));
    assert_eq!(tradai_handlers::notify::pump(&e.ctx).await.unwrap(), 0);
    let got = rx.accepted.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["title"], "Significant drift on M", "{:#}", got[0]);
    assert_eq!(got[0]["severity"], "CRITICAL");
}

//! Webhook channels against a real HTTP server on loopback.

use chrono::{TimeZone, Utc};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tradai_domain::IncidentSeverity;
use tradai_embedded::notify::{SlackChannel, WebhookChannel};
use tradai_ports::{Channel, Notification, NotificationType};

/// A minimal HTTP/1.1 server: answers each request with the next status of `statuses` (the last
/// one repeats) and records the bodies it received.
fn server(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            reader.read_exact(&mut body).unwrap();
            seen.lock()
                .unwrap()
                .push(serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null));
            let status = *statuses.get(i).or(statuses.last()).unwrap();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
            );
        }
    });
    (url, bodies)
}

fn note(sev: IncidentSeverity) -> Notification {
    Notification {
        notification_type: NotificationType::DriftDetected,
        title: "Significant drift on PascalStrategy".into(),
        message: "PSI=0.35".into(),
        model_name: Some("PascalStrategy".into()),
        strategy_name: None,
        details: serde_json::json!({"psi": 0.35}),
        severity: sev,
        created_at: Utc.with_ymd_and_hms(2024, 2, 7, 12, 0, 0).unwrap(),
    }
}

#[tokio::test]
async fn webhook_posts_the_notification_and_reports_failures() {
    let (url, bodies) = server(vec![500, 200]);
    let ch = WebhookChannel::new(&url, Duration::from_secs(5));
    let e = ch
        .deliver(&note(IncidentSeverity::Warning))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("HTTP 500"), "{e}");
    ch.deliver(&note(IncidentSeverity::Warning)).await.unwrap();
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1]["notification_type"], "DRIFT_DETECTED");
    assert_eq!(got[1]["severity"], "WARNING");
    assert_eq!(got[1]["model_name"], "PascalStrategy");
}

#[tokio::test]
async fn slack_gets_a_coloured_attachment() {
    let (url, bodies) = server(vec![200]);
    SlackChannel::new(&url, Duration::from_secs(5))
        .deliver(&note(IncidentSeverity::Critical))
        .await
        .unwrap();
    let got = bodies.lock().unwrap()[0].clone();
    let a = &got["attachments"][0];
    assert_eq!(a["color"], "#8b0000");
    assert_eq!(a["title"], "Significant drift on PascalStrategy");
    assert_eq!(a["text"], "PSI=0.35");
    let fields: Vec<&str> = a["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["Type", "Severity", "Model", "psi"]);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_an_error_not_a_hang() {
    // Bind then drop: nothing listens on that port any more.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ch = WebhookChannel::new(
        &format!("http://127.0.0.1:{port}/x"),
        Duration::from_secs(2),
    );
    assert!(ch.deliver(&note(IncidentSeverity::Error)).await.is_err());
}

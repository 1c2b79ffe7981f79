//! Printing: one JSON document with `--json`, readable tables otherwise.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

/// Prints `value` as pretty JSON, or the human rendering.
pub fn emit<T: Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce() -> String,
) -> anyhow::Result<()> {
    let text = if json {
        serde_json::to_string_pretty(value)?
    } else {
        human()
    };
    if !text.is_empty() {
        out(text.trim_end())?;
    }
    Ok(())
}

/// Writes a line to stdout; a closed pipe (`tradai … | head`) is not an error.
pub fn out(line: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{line}").and_then(|_| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// A table with a header row.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    for r in rows {
        t.add_row(r);
    }
    t.to_string()
}

/// Key/value lines, aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k:<w$}  {v}\n"))
        .collect()
}

/// `-` for a missing value.
pub fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// A time as tradai writes it.
pub fn ts(t: &chrono::DateTime<chrono::Utc>) -> String {
    tradai_domain::time::fmt_ts(*t)
}

/// Prints an error cargo-style on stderr (and as JSON on stdout with `--json`).
pub fn print_error(e: &anyhow::Error, json: bool, code: u8) {
    let mut msg = e.to_string();
    let causes: Vec<String> = e
        .chain()
        .skip(1)
        .map(|c| c.to_string())
        .filter(|c| !msg.contains(c.as_str()))
        .collect();
    for c in &causes {
        msg.push_str(&format!("\n  caused by: {c}"));
    }
    eprintln!("error: {msg}");
    if json {
        let _ = out(
            &serde_json::json!({"error": e.to_string(), "causes": causes, "exit_code": code})
                .to_string(),
        );
    }
}

//! `tradai config show`

use crate::app::{Global, source_label};
use crate::output::{emit, table};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// The effective configuration and where each value came from (default, file, env, flag).
    Show,
}

pub fn run(cmd: ConfigCmd, g: &Global) -> anyhow::Result<u8> {
    match cmd {
        ConfigCmd::Show => {
            let loaded = g.load_config()?;
            let values = tradai_runbook::config::flatten(&loaded.config);
            let items: Vec<serde_json::Value> = values
                .iter()
                .map(|(k, v)| {
                    let src = loaded.sources.get(k).map(source_label).unwrap_or_else(|| "default".into());
                    serde_json::json!({"key": k, "env": tradai_runbook::config::env_var(k), "value": v, "source": src})
                })
                .collect();
            let out = serde_json::json!({"env": g.env, "home": g.home(), "settings": items});
            emit(g.json, &out, || {
                let mut s = format!("environment {}  home {}\n", g.env, g.home().display());
                s.push_str(&table(
                    &["setting", "env var", "value", "source"],
                    items
                        .iter()
                        .map(|i| {
                            vec![
                                i["key"].as_str().unwrap_or("").to_string(),
                                i["env"].as_str().unwrap_or("").to_string(),
                                i["value"].to_string(),
                                i["source"].as_str().unwrap_or("").to_string(),
                            ]
                        })
                        .collect(),
                ));
                s
            })?;
        }
    }
    Ok(0)
}

//! A [`CephClient`] double for unit tests of deciding-and-acting code without a cluster: it
//! answers each command from a script (by `prefix`) and records every command it was sent, so
//! a test asserts "this run sent `osd purge-new` for id 3, and nothing else".

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde_json::Value;

use super::client::CephClient;
use crate::error::{Error, Result};

/// An answer computed from the command (for replies that depend on an argument, such as the
/// entity of `auth get`); `None` falls back to the answer by prefix.
type Responder = Box<dyn Fn(&Value) -> Option<Value> + Send + Sync>;

/// Answers from a script; records what it was asked.
#[derive(Default)]
pub struct ScriptedClient {
    answers: BTreeMap<String, Value>,
    texts: BTreeMap<String, Vec<u8>>,
    errors: BTreeMap<String, i32>,
    responder: Option<Responder>,
    sent: Mutex<Vec<Value>>,
}

impl std::fmt::Debug for ScriptedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedClient")
            .field("answers", &self.answers.keys().collect::<Vec<_>>())
            .field("sent", &self.sent())
            .finish_non_exhaustive()
    }
}

impl ScriptedClient {
    /// A client that knows no command yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers commands with this `prefix` with `reply` (JSON).
    pub fn answer(mut self, prefix: &str, reply: Value) -> Self {
        self.answers.insert(prefix.to_string(), reply);
        self
    }

    /// Answers commands with this `prefix` with plain text (`format=plain` replies such as a
    /// keyring or `config generate-minimal-conf`).
    pub fn answer_text(mut self, prefix: &str, text: &str) -> Self {
        self.texts
            .insert(prefix.to_string(), text.as_bytes().to_vec());
        self
    }

    /// Fails commands with this `prefix` as the monitors do, with `errno` (2: no such entity).
    pub fn answer_error(mut self, prefix: &str, errno: i32) -> Self {
        self.errors.insert(prefix.to_string(), errno);
        self
    }

    /// Answers from `f` first (a reply computed from the whole command).
    pub fn respond_with(
        mut self,
        f: impl Fn(&Value) -> Option<Value> + Send + Sync + 'static,
    ) -> Self {
        self.responder = Some(Box::new(f));
        self
    }

    /// Every command sent so far, in order.
    pub fn sent(&self) -> Vec<Value> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The prefixes of the commands sent, in order.
    pub fn prefixes(&self) -> Vec<String> {
        self.sent()
            .iter()
            .filter_map(|c| c.get("prefix").and_then(Value::as_str).map(str::to_string))
            .collect()
    }

    fn reply(&self, cmd: &Value) -> Result<Vec<u8>> {
        if let Ok(mut s) = self.sent.lock() {
            s.push(cmd.clone());
        }
        let prefix = cmd.get("prefix").and_then(Value::as_str).unwrap_or("");
        if let Some(v) = self.responder.as_ref().and_then(|f| f(cmd)) {
            return Ok(if v.is_null() {
                Vec::new()
            } else {
                v.to_string().into_bytes()
            });
        }
        if let Some(errno) = self.errors.get(prefix) {
            return Err(Error::Cluster {
                context: format!("`{prefix}`"),
                message: format!("the test script fails this command with errno {errno}"),
                errno: Some(*errno),
            });
        }
        if let Some(t) = self.texts.get(prefix) {
            return Ok(t.clone());
        }
        match self.answers.get(prefix) {
            Some(Value::Null) => Ok(Vec::new()),
            Some(v) => Ok(v.to_string().into_bytes()),
            None => Err(Error::Cluster {
                context: format!("`{prefix}`"),
                message: "the test script has no answer for this command".into(),
                errno: Some(22),
            }),
        }
    }
}

impl CephClient for ScriptedClient {
    fn mon_raw(&self, cmd: &Value, _input: &[u8]) -> Result<Vec<u8>> {
        self.reply(cmd)
    }

    fn mgr_raw(&self, cmd: &Value, _input: &[u8]) -> Result<Vec<u8>> {
        self.reply(cmd)
    }

    fn osd_raw(&self, _id: u32, cmd: &Value, _input: &[u8]) -> Result<Vec<u8>> {
        self.reply(cmd)
    }
}

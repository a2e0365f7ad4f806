//! What `GET /v1/events` streams: one typed event per change, serialised as
//! `{"type": "job" | "log" | "disk" | "activate", ...}` (the shapes docs/daemon.md lists).

use serde::Serialize;

use super::state::JobState;

/// One event.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A job changed state.
    Job {
        /// The job.
        id: u64,
        /// Its disk (`/dev/sdc`).
        device: String,
        /// Its new state.
        state: JobState,
        /// Why it failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A line of a running job's log.
    Log {
        /// The job.
        job: u64,
        /// The line.
        line: String,
    },
    /// A disk was read again after its events.
    Disk {
        /// The disk.
        device: String,
        /// Whether it is still there.
        present: bool,
        /// Its state now (`None` when gone).
        state: Option<&'static str>,
    },
    /// The start-up `osd activate --all` finished; its report.
    Activate {
        /// `osd activate --format json`'s report (null when it printed none).
        result: serde_json::Value,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn events_keep_the_wire_shape_clients_read() {
        let e = Event::Job {
            id: 3,
            device: "/dev/sdc".into(),
            state: JobState::Failed,
            error: Some("no".into()),
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "job", "id": 3, "device": "/dev/sdc", "state": "failed", "error": "no"})
        );
        let e = Event::Disk {
            device: "/dev/sdd".into(),
            present: false,
            state: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"type":"disk","device":"/dev/sdd","present":false,"state":null}"#
        );
    }
}

//! The metrics outside the root-only socket, for a Prometheus server or node_exporter: a TCP
//! listener that serves `GET /metrics` and nothing else, and a textfile rewritten on a
//! timer. Both carry the same text as the socket's `/metrics`. Off unless `[metrics]` in the
//! daemon's config says where (docs/daemon.md).
//!
//! The listener is read-only and bounded like the socket: one request per connection, the
//! same head and body limits, a 10 s read deadline, at most `max_connections` served at
//! once (more are answered 503 and closed).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::BufReader;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::http::{self, Reject, Request};
use super::metrics;
use crate::error::{Error, Result};

/// Renders the exposition text on demand.
pub type Render = Arc<dyn Fn() -> String + Send + Sync>;

/// What the metrics port answers (pure decision on the request as read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the metrics.
    Metrics,
    /// An error status and its message.
    Error(u16, String),
}

/// The answer to one request (pure): `GET /metrics` (a query string is ignored) gets the
/// metrics; a request that could not be read gets its reject status; a body, another method
/// or another path gets 413, 405 or 404.
pub fn answer(request: &std::result::Result<Request, Reject>) -> Answer {
    let req = match request {
        Ok(r) => r,
        Err(rej) => return Answer::Error(rej.status, rej.message.clone()),
    };
    if req.path != "/metrics" {
        return Answer::Error(
            404,
            format!(
                "not found: this port serves GET /metrics only, not {}",
                req.path
            ),
        );
    }
    if req.method != "GET" {
        return Answer::Error(405, "use GET".into());
    }
    if !req.body.is_empty() {
        return Answer::Error(413, "a scrape has no body".into());
    }
    Answer::Metrics
}

/// Binds the listener (at start, so that a bad or taken address stops the daemon with the
/// key named).
pub async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        Error::Usage(format!(
            "cannot listen on {addr} (the daemon config's metrics.listen): {e}"
        ))
    })
}

/// Serves the listener until the daemon stops.
pub async fn serve(listener: TcpListener, max_connections: usize, render: Render) {
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let stream = match listener.accept().await {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::warn!(error = %e, "metrics listener: accept failed");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let permit = slots.clone().try_acquire_owned();
        let render = render.clone();
        tokio::spawn(async move {
            let mut stream = BufReader::new(stream);
            let Ok(_permit) = permit else {
                http::respond_text(
                    &mut stream,
                    503,
                    "text/plain",
                    "too many connections: try again\n",
                )
                .await;
                return;
            };
            let request =
                tokio::time::timeout(Duration::from_secs(10), http::read_request(&mut stream))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Reject {
                            status: 408,
                            message: "request not received within 10 s".into(),
                        })
                    });
            match answer(&request) {
                Answer::Metrics => {
                    http::respond_text(&mut stream, 200, metrics::CONTENT_TYPE, &render()).await;
                }
                Answer::Error(status, message) => {
                    http::respond_text(&mut stream, status, "text/plain", &format!("{message}\n"))
                        .await;
                    if request.is_err() {
                        // What the client still sends is read and dropped, briefly, so it
                        // sees the answer rather than a reset.
                        http::drain(&mut stream, 1 << 20, Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }
}

/// The temporary file beside `path` that is renamed over it (hidden, and not `*.prom`, so
/// node_exporter never reads a half-written file).
fn temporary_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Writes `text` to `path` atomically (a temporary file, then a rename), mode 0644.
pub fn write_textfile(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = temporary_beside(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Rewrites the textfile every `interval` until the daemon stops; a failure is logged once
/// (and its end once), not on every tick.
pub async fn write_textfile_every(path: PathBuf, interval: Duration, render: Render) {
    let mut failing = false;
    loop {
        let text = render();
        let p = path.clone();
        let result = tokio::task::spawn_blocking(move || write_textfile(&p, &text))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        match result {
            Err(e) if !failing => {
                tracing::warn!(file = %path.display(), error = %e, "cannot write the metrics textfile");
                failing = true;
            }
            Ok(()) if failing => {
                tracing::info!(file = %path.display(), "the metrics textfile is written again");
                failing = false;
            }
            _ => {}
        }
        tokio::time::sleep(interval).await;
    }
}

/// Removes the textfile at stop: a stopped daemon's numbers would read as current.
pub fn remove_textfile(path: &Path) {
    let _ = std::fs::remove_file(path);
    let _ = std::fs::remove_file(temporary_beside(path));
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn get(method: &str, path: &str, body: &[u8]) -> std::result::Result<Request, Reject> {
        Ok(Request {
            method: method.into(),
            path: path.into(),
            body: body.to_vec(),
        })
    }

    #[test]
    fn only_a_get_of_metrics_is_served() {
        assert_eq!(answer(&get("GET", "/metrics", b"")), Answer::Metrics);
        for (req, status) in [
            (get("GET", "/", b""), 404),
            (get("GET", "/v1/disks", b""), 404),
            (get("GET", "/metrics/", b""), 404),
            (get("POST", "/v1/osd/prepare", b"{}"), 404),
            (get("POST", "/metrics", b""), 405),
            (get("DELETE", "/metrics", b""), 405),
            (get("GET", "/metrics", b"x"), 413),
            (
                Err(Reject {
                    status: 431,
                    message: "request head too large".into(),
                }),
                431,
            ),
        ] {
            match answer(&req) {
                Answer::Error(s, _) => assert_eq!(s, status, "{req:?}"),
                Answer::Metrics => panic!("{req:?} was served"),
            }
        }
    }

    #[test]
    fn the_textfile_is_replaced_whole_and_removed_at_stop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cephboot.prom");
        write_textfile(&path, "a 1\n").unwrap();
        write_textfile(&path, "a 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a 2\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("cephboot.prom")]);
        remove_textfile(&path);
        assert!(!path.exists());
    }
}

//! A deliberately small HTTP/1.1 (over the Unix socket, and the metrics port): one request per connection, bounded
//! header and body sizes, JSON replies. Small enough to read in full, and every malformed
//! input is a 4xx, never a panic.

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

/// Largest request head accepted.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// Why a request could not be read: the status to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// HTTP status.
    pub status: u16,
    /// Message.
    pub message: String,
}

fn reject(status: u16, message: &str) -> Reject {
    Reject {
        status,
        message: message.to_string(),
    }
}

/// Parses a request head (pure; `head` ends before the blank line).
pub fn parse_head(head: &str) -> Result<(String, String, usize), Reject> {
    let mut lines = head.split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(reject(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(reject(505, "only HTTP/1.x is served"));
    }
    if method.is_empty()
        || !method.chars().all(|c| c.is_ascii_uppercase())
        || !target.starts_with('/')
    {
        return Err(reject(400, "malformed request line"));
    }
    let mut length = 0usize;
    for h in lines {
        let Some((k, v)) = h.split_once(':') else {
            return Err(reject(400, "malformed header"));
        };
        if k.eq_ignore_ascii_case("content-length") {
            length = v
                .trim()
                .parse()
                .map_err(|_| reject(400, "bad Content-Length"))?;
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            return Err(reject(
                411,
                "chunked bodies are not accepted: send Content-Length",
            ));
        }
    }
    if length > MAX_BODY {
        return Err(reject(413, "body too large"));
    }
    let path = target.split('?').next().unwrap_or("/").to_string();
    Ok((method.to_string(), path, length))
}

/// Reads one request from the stream.
pub async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut BufReader<S>,
) -> Result<Request, Reject> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = (&mut *stream)
            .take(MAX_HEAD as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|_| reject(400, "read error"))?;
        if n == 0 {
            return Err(reject(400, "connection closed before the request ended"));
        }
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        head.extend_from_slice(&line);
        if head.len() > MAX_HEAD {
            return Err(reject(431, "request head too large"));
        }
    }
    let text = String::from_utf8(head).map_err(|_| reject(400, "request head is not UTF-8"))?;
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let (method, path, length) = parse_head(text.trim_end_matches("\r\n"))?;
    let mut body = vec![0u8; length];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|_| reject(400, "body shorter than Content-Length"))?;
    Ok(Request { method, path, body })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// Writes a JSON response and closes.
pub async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    status: u16,
    body: &serde_json::Value,
) {
    respond_text(stream, status, "application/json", &format!("{body}\n")).await;
}

/// Writes a response with `text` as its body and closes.
pub async fn respond_text<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    status: u16,
    content_type: &str,
    text: &str,
) {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        text.len()
    );
    let s = stream.get_mut();
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(text.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// After refusing a request whose body was not read (too large, malformed), reads and drops
/// what the client still sends, up to `max` bytes or for `within`: a Unix socket closed with
/// unread data resets the connection, and a client still writing its body would see that
/// reset instead of the answer already sent.
pub async fn drain<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    max: usize,
    within: std::time::Duration,
) {
    let mut left = max;
    let mut buf = vec![0u8; 64 << 10];
    let _ = tokio::time::timeout(within, async {
        while left > 0 {
            let want = buf.len().min(left);
            let Some(chunk) = buf.get_mut(..want) else {
                break;
            };
            match stream.get_mut().read(chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// A JSON error body.
pub fn error_body(status: u16, message: &str) -> serde_json::Value {
    serde_json::json!({"error": {"status": status, "message": message}})
}

/// The most of a reply the client reads (the daemon's largest answers, `/v1/disks` and
/// `/v1/jobs` with logs, are far smaller).
const MAX_REPLY: u64 = 16 << 20;

/// A reply's status and body: the body is exactly `Content-Length` bytes when the head says
/// so (a shorter one is an error, not a truncated JSON value), else everything after the head.
pub fn split_reply(reply: &[u8]) -> std::io::Result<(u16, &[u8])> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("the daemon's reply has no complete head"))?;
    let head = String::from_utf8_lossy(reply.get(..end).unwrap_or_default());
    let body = reply.get(end + 4..).unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("the daemon's reply has no status"))?;
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim().parse::<usize>())
        .transpose()
        .map_err(|_| bad("the daemon's reply has a malformed Content-Length"))?;
    match length {
        Some(n) => body
            .get(..n)
            .map(|b| (status, b))
            .ok_or_else(|| bad("the daemon's reply ended before its Content-Length")),
        None => Ok((status, body)),
    }
}

/// A blocking client request (for `cephboot status` and `--via-daemon`): status and body.
pub fn client_request(
    socket: &std::path::Path,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> std::io::Result<(u16, serde_json::Value)> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    s.set_write_timeout(Some(std::time::Duration::from_secs(30)))?;
    let payload = body.map(ToString::to_string).unwrap_or_default();
    write!(s, "{method} {path} HTTP/1.1\r\nHost: cephboot\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}", payload.len())?;
    let mut reply = Vec::new();
    s.take(MAX_REPLY).read_to_end(&mut reply)?;
    let (status, body) = split_reply(&reply)?;
    let value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    Ok((status, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_cut_at_their_content_length_and_short_ones_are_errors() {
        let (status, body) =
            split_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}trailing").unwrap();
        assert_eq!((status, body), (200, &b"{}"[..]));
        assert!(split_reply(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}").is_err());
        assert_eq!(
            split_reply(b"HTTP/1.1 404 Not Found\r\n\r\n{\"a\":1}")
                .unwrap()
                .1,
            b"{\"a\":1}"
        );
        assert!(split_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 2").is_err());
        assert!(split_reply(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}").is_err());
    }

    #[test]
    fn heads() {
        assert_eq!(
            parse_head("GET /v1/jobs?x=1 HTTP/1.1\r\nHost: a").unwrap(),
            ("GET".into(), "/v1/jobs".into(), 0)
        );
        assert_eq!(
            parse_head("POST /v1/osd/prepare HTTP/1.1\r\nContent-Length: 12")
                .unwrap()
                .2,
            12
        );
        assert_eq!(
            parse_head("POST / HTTP/1.1\r\ncontent-length: 999999999")
                .unwrap_err()
                .status,
            413
        );
        assert_eq!(
            parse_head("POST / HTTP/1.1\r\nTransfer-Encoding: chunked")
                .unwrap_err()
                .status,
            411
        );
        assert_eq!(parse_head("GARBAGE").unwrap_err().status, 400);
        assert_eq!(parse_head("GET / HTTP/2").unwrap_err().status, 505);
        assert_eq!(parse_head("get / HTTP/1.1").unwrap_err().status, 400);
        assert_eq!(
            parse_head("GET / HTTP/1.1\r\nnocolon").unwrap_err().status,
            400
        );
        assert_eq!(
            parse_head("GET / HTTP/1.1\r\nContent-Length: -1")
                .unwrap_err()
                .status,
            400
        );
    }
}

//! A minimal plain-HTTP client for the services on 127.0.0.1 (moto, `/healthz`): HTTP/1.0, so every response
//! ends with the connection and is never chunked.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

/// A response, fully read.
#[derive(Debug)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The body as text (lossy).
    pub(crate) body: String,
}

/// Sends one request to `base` (`http://host:port`, any path after it is ignored) and reads the whole response.
pub(crate) fn request(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{what}: {base}"));
    let authority = base.strip_prefix("http://").ok_or_else(|| invalid("not an http:// URL"))?;
    let authority = authority.split('/').next().unwrap_or_default();
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    stream.set_write_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not an HTTP response: {text:?}"));
    let status_line = text.lines().next().ok_or_else(bad)?;
    let status = status_line.split(' ').nth(1).and_then(|code| code.parse().ok()).ok_or_else(bad)?;
    let body = text.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Ok(Response { status, body })
}

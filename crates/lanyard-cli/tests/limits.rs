//! What one client may cost a real `lanyard serve` process (docs/operations.md, "Timeouts and limits"): slow heads
//! (slowloris), idle and silent connections, slow bodies, the connection caps, `/metrics` label sets under made-up
//! methods and paths, and the web server's own errors as problem+json. The clients are raw sockets on 127.0.0.x,
//! so every byte and its timing is the test's. The measured times are printed (stderr) for the record.

#![allow(clippy::print_stderr)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use lanyard_testsupport::LanyardServer;

const BIN: &str = env!("CARGO_BIN_EXE_lanyard");

fn serve(args: &[&str]) -> LanyardServer {
    let mut all = vec!["--no-pipelines"];
    all.extend_from_slice(args);
    LanyardServer::builder(Path::new(BIN)).args(&all).start()
}

fn addr(server: &LanyardServer) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, server.port()))
}

/// One response read off a stream.
#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// Asserts a problem+json answer whose body carries the same status, with this code.
    fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{self:?}");
        let problem: serde_json::Value = serde_json::from_str(&self.body).expect("a JSON body");
        assert_eq!(problem["status"], status, "{problem}");
        assert_eq!(problem["code"], code, "{problem}");
    }
}

/// Reads one response (head and `content-length` body) from `stream`.
fn read_reply(stream: &mut TcpStream) -> std::io::Result<Reply> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "closed before a response head"));
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "closed inside a response body"));
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).into_owned();
    Ok(Reply { status, head, body })
}

/// Sends `request` on a fresh connection and reads the response.
fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream.write_all(request).expect("send");
    read_reply(&mut stream).expect("a response")
}

/// `GET path` with keep-alive on `stream`.
fn get(stream: &mut TcpStream, path: &str) -> std::io::Result<Reply> {
    stream.write_all(format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").as_bytes())?;
    read_reply(stream)
}

/// A connection from `source` (any 127.0.0.0/8 address) to `to`.
fn connect_from(source: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap();
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((source, 0))).unwrap();
        socket.connect(to).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// How long until the server closes `stream` (reading nothing), or `None` if it is still open after `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => Some(started.elapsed()),
        Ok(_) => panic!("the server sent bytes on a connection it should close silently"),
        Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted) => {
            Some(started.elapsed())
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
        Err(e) => panic!("read: {e}"),
    }
}

/// The time to a full `GET /healthz` answer on a fresh connection.
fn healthz_time(addr: SocketAddr) -> Duration {
    let started = Instant::now();
    let reply = exchange(addr, b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n");
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 200, "{reply:?}");
    elapsed
}

/// Issue 17: 100 connections trickling a request head one byte every 100 ms. Throughout, `/healthz` answers on a
/// fresh connection within 100 ms (the issue's bound; a debug build answers it in a few ms, so the margin is wide
/// even on a busy machine; the worst case is printed), and the server closes every trickling connection once the
/// header timeout (2 s here) has passed, not before.
#[test]
fn slowloris_connections_are_closed_after_the_header_timeout_and_healthz_keeps_answering() {
    const TRICKLERS: usize = 100;
    const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
    let server = serve(&["--header-timeout-ms", "2000", "--max-connections-per-ip", "500"]);
    let addr = addr(&server);
    let tricklers: Vec<_> = (0..TRICKLERS)
        .map(|i| {
            std::thread::spawn(move || -> Result<Duration, String> {
                let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
                let opened = Instant::now();
                let head = format!("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-trickle-{i}: {}", "a".repeat(200));
                stream.set_nonblocking(true).unwrap();
                for byte in head.bytes().cycle() {
                    if opened.elapsed() > Duration::from_secs(10) {
                        return Err("still open after 10 s".to_owned());
                    }
                    let mut probe = [0u8; 1];
                    match stream.read(&mut probe) {
                        Ok(0) => return Ok(opened.elapsed()),
                        Ok(_) => return Err("the server answered a request head that never ended".to_owned()),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(_) => return Ok(opened.elapsed()),
                    }
                    if stream.write_all(&[byte]).is_err() {
                        return Ok(opened.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                unreachable!()
            })
        })
        .collect();

    // Probe /healthz from before the timeout until after it (while the server closes the tricklers).
    std::thread::sleep(Duration::from_millis(300));
    let mut worst = Duration::ZERO;
    let mut probes = 0;
    let until = Instant::now() + HEADER_TIMEOUT + Duration::from_secs(1);
    while Instant::now() < until {
        worst = worst.max(healthz_time(addr));
        probes += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let closed: Vec<Duration> = tricklers
        .into_iter()
        .map(|t| t.join().unwrap().unwrap_or_else(|e| panic!("a trickling connection: {e}")))
        .collect();
    let earliest = closed.iter().min().unwrap();
    let latest = closed.iter().max().unwrap();
    eprintln!(
        "slowloris: {TRICKLERS} trickling connections closed after {earliest:?}..{latest:?}; /healthz worst of \
         {probes} probes: {worst:?}"
    );
    assert!(worst < Duration::from_millis(100), "/healthz took {worst:?} during the slowloris");
    assert!(*earliest >= HEADER_TIMEOUT - Duration::from_millis(100), "closed before the header timeout: {earliest:?}");
    assert!(*latest <= HEADER_TIMEOUT + Duration::from_secs(2), "closed long after the header timeout: {latest:?}");
}

/// A connection that sends nothing, and a keep-alive connection idle after its first request, are closed after the
/// header timeout; a connection busy with requests is not.
#[test]
fn silent_and_idle_keep_alive_connections_are_closed_after_the_header_timeout() {
    let server = serve(&["--header-timeout-ms", "1000"]);
    let addr = addr(&server);

    let mut silent = TcpStream::connect(addr).unwrap();
    let after = closed_within(&mut silent, Duration::from_secs(5)).expect("a silent connection stays open");
    assert!((Duration::from_millis(900)..Duration::from_secs(3)).contains(&after), "silent closed after {after:?}");

    let mut idle = TcpStream::connect(addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // Requests every 400 ms for 2 s, more than the timeout: the connection stays, as each head arrives in time.
    for _ in 0..5 {
        assert_eq!(get(&mut idle, "/healthz").unwrap().status, 200);
        std::thread::sleep(Duration::from_millis(400));
    }
    assert_eq!(get(&mut idle, "/healthz").unwrap().status, 200);
    let after = closed_within(&mut idle, Duration::from_secs(5)).expect("an idle keep-alive connection stays open");
    assert!((Duration::from_millis(900)..Duration::from_secs(3)).contains(&after), "idle closed after {after:?}");
}

/// A body that does not arrive within the body timeout is `408 request_timeout` as a problem, and the connection is
/// closed.
#[test]
fn a_slow_body_gets_408_after_the_body_timeout() {
    let server = serve(&["--body-timeout-ms", "1000"]);
    let token = server.admin_token();
    let mut stream = TcpStream::connect(addr(&server)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    stream
        .write_all(
            format!(
                "POST /connections HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\
                 content-type: application/json\r\ncontent-length: 200\r\n\r\n{{\"name\": "
            )
            .as_bytes(),
        )
        .unwrap();
    let reply = read_reply(&mut stream).unwrap();
    let elapsed = started.elapsed();
    reply.assert_problem(408, "request_timeout");
    assert!((Duration::from_millis(900)..Duration::from_secs(5)).contains(&elapsed), "408 after {elapsed:?}");
    assert!(closed_within(&mut stream, Duration::from_secs(5)).is_some(), "the connection stays open after the 408");
}

/// A request still running at the request timeout (here: its body is slower than the request timeout) is
/// `503 backend_unavailable` as a problem; TEST CONNECTION is bounded by its own probe deadline instead, so a probe
/// longer than the request timeout (and the header timeout) still gets its answer.
#[test]
fn the_request_timeout_is_503_but_does_not_cut_a_test_connection_short() {
    // The header timeout is shorter than the probe too: it bounds reading heads, not a request being handled.
    let server = serve(&["--request-timeout-ms", "1000", "--body-timeout-ms", "10000", "--header-timeout-ms", "1000"]);
    let token = server.admin_token();
    let addr = addr(&server);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    let head = format!(
        "POST /connections HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\ncontent-length: 200\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).unwrap();
    let reply = read_reply(&mut stream).unwrap();
    let elapsed = started.elapsed();
    reply.assert_problem(503, "backend_unavailable");
    assert!((Duration::from_millis(900)..Duration::from_secs(5)).contains(&elapsed), "503 after {elapsed:?}");

    // A PostgreSQL "server" that accepts (in its backlog) and never answers: the probe runs to its 2 s TIMEOUT.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let auth = format!("authorization: Bearer {token}\r\n");
    let post = |path: &str, body: &str| {
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n{auth}content-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        exchange(addr, request.as_bytes())
    };
    let reply = post(
        "/vault/entries",
        r#"{"name": "pg_login", "type": "CREDENTIAL", "secret": "{\"username\":\"app\",\"password\":\"pw-limits-test\"}"}"#,
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    let reply = post(
        "/connections",
        &format!(
            r#"{{"name": "silent_pg", "type": "postgresql", "options": {{"host": "127.0.0.1", "port": "{port}"}},
                "credential": "pg_login", "timeout_seconds": 2}}"#
        ),
    );
    assert_eq!(reply.status, 201, "{reply:?}");
    let started = Instant::now();
    let reply = exchange(
        addr,
        format!("POST /connections/silent_pg/test HTTP/1.1\r\nhost: 127.0.0.1\r\n{auth}connection: close\r\n\r\n")
            .as_bytes(),
    );
    let elapsed = started.elapsed();
    assert_eq!(reply.status, 200, "{reply:?}");
    let result: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(result["result"], "FAILED", "{result}");
    assert!(result["error"].as_str().is_some_and(|e| e.contains("timed out")), "{result}");
    assert!(elapsed >= Duration::from_millis(1900), "the probe did not run past the request timeout: {elapsed:?}");
    drop(silent);
}

/// `--max-connections-per-ip 2 --max-connections 3`: the third connection from one address and the fourth in total
/// are closed at once (and counted); a freed slot is taken by the next connection.
#[test]
fn connection_caps_refuse_the_next_connection_and_a_freed_slot_is_reused() {
    let server = serve(&["--max-connections", "3", "--max-connections-per-ip", "2", "--header-timeout-ms", "30000"]);
    let addr = addr(&server);
    let one = Ipv4Addr::new(127, 0, 0, 1);
    let mut a1 = connect_from(one, addr);
    let mut a2 = connect_from(one, addr);
    for a in [&mut a1, &mut a2] {
        a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(get(a, "/healthz").unwrap().status, 200);
    }
    let mut a3 = connect_from(one, addr);
    assert!(closed_within(&mut a3, Duration::from_secs(2)).is_some(), "a third connection from one IP is served");

    let mut b1 = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr);
    b1.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(get(&mut b1, "/healthz").unwrap().status, 200, "another IP is under its own cap");
    let mut c1 = connect_from(Ipv4Addr::new(127, 0, 0, 3), addr);
    assert!(closed_within(&mut c1, Duration::from_secs(2)).is_some(), "a fourth connection in total is served");

    // Free a slot of 127.0.0.1: the next connection from it is served (once the server has seen the close).
    drop(a1);
    let deadline = Instant::now() + Duration::from_secs(5);
    let metrics = loop {
        let mut again = connect_from(one, addr);
        again.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        if let Ok(reply) = get(&mut again, "/metrics") {
            assert_eq!(reply.status, 200);
            break reply.body;
        }
        assert!(Instant::now() < deadline, "the freed slot was not reused within 5 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    let value = |series: &str| {
        metrics.lines().find_map(|l| l.strip_prefix(series)?.trim().parse::<f64>().ok()).unwrap_or_else(|| {
            panic!("no {series} in /metrics:\n{metrics}");
        })
    };
    assert!(value("lanyard_http_connections_refused_total{cap=\"per_ip\"}") >= 1.0);
    assert!(value("lanyard_http_connections_refused_total{cap=\"total\"}") >= 1.0);
    assert_eq!(value("lanyard_http_connections_open"), 3.0, "a2, b1 and the one reading /metrics");
}

/// `/metrics` series as a set: every sample line without its value.
fn series(metrics: &str) -> std::collections::BTreeSet<String> {
    metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.rsplit_once(' ').map_or(l, |(series, _)| series).to_owned())
        .collect()
}

/// Issue 17: 3,000 requests with made-up methods and made-up paths create no series: the set of series on
/// `/metrics` is the same before and after (the values change, so the bytes are compared only loosely: at most the
/// longer numbers).
#[test]
fn made_up_methods_and_paths_leave_the_metrics_series_unchanged() {
    let server = serve(&[]);
    let addr = addr(&server);
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut send = |method: &str, path: &str| -> Reply {
        stream.write_all(format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").as_bytes()).unwrap();
        read_reply(&mut stream).unwrap()
    };
    // One of each kind first, so that the series those kinds legitimately have exist before the count.
    let kinds = |i: usize| -> (String, String) {
        match i % 4 {
            0 => (format!("FROB{i}"), "/healthz".to_owned()),
            1 => (format!("X-{i}"), format!("/made/up/{i}")),
            2 => (format!("get{i}"), format!("/nowhere-{i}?q={i}")),
            _ => (format!("M{i}"), format!("/connections/c{i}")),
        }
    };
    for i in 0..8 {
        let (method, path) = kinds(i);
        send(&method, &path);
    }
    send("GET", "/metrics");
    let before = send("GET", "/metrics").body;
    for i in 8..3008 {
        let (method, path) = kinds(i);
        let reply = send(&method, &path);
        assert!(matches!(reply.status, 404 | 405 | 401), "{method} {path}: {reply:?}");
    }
    let after = send("GET", "/metrics").body;
    let (before_series, after_series) = (series(&before), series(&after));
    let added: Vec<_> = after_series.difference(&before_series).collect();
    assert!(added.is_empty(), "new series after 3,000 made-up requests: {added:?}");
    assert_eq!(before_series, after_series);
    eprintln!(
        "/metrics: {} bytes and {} series before, {} bytes after",
        before.len(),
        before_series.len(),
        after.len()
    );
    assert!(after.len() <= before.len() + 24 * after_series.len(), "/metrics grew by more than its numbers");
    for label in ["method=\"other\"", "route=\"unmatched\""] {
        assert!(after.contains(label), "no {label} on /metrics");
    }
    assert!(!after.contains("FROB") && !after.contains("/made/up"), "a made-up method or path became a label");
}

/// The web server's own errors are problem+json whose body status is the response's: 405 (it was 400 in the body),
/// 414 and 431 below hyper's limits, 404.
#[test]
fn the_web_servers_own_errors_are_problems_with_their_status() {
    let server = serve(&["--max-uri-bytes", "1024", "--max-header-bytes", "4096"]);
    let addr = addr(&server);
    let close = "host: 127.0.0.1\r\nconnection: close\r\n";

    let reply = exchange(addr, format!("DELETE /healthz HTTP/1.1\r\n{close}\r\n").as_bytes());
    reply.assert_problem(405, "method_not_allowed");
    let reply = exchange(addr, format!("FROB /connections HTTP/1.1\r\n{close}\r\n").as_bytes());
    reply.assert_problem(405, "method_not_allowed");

    let long = format!("/connections/{}", "a".repeat(1100));
    let reply = exchange(addr, format!("GET {long} HTTP/1.1\r\n{close}\r\n").as_bytes());
    reply.assert_problem(414, "uri_too_long");
    assert!(reply.body.contains("1024"), "the limit is not named: {}", reply.body);
    let reply = exchange(addr, format!("GET /healthz?{} HTTP/1.1\r\n{close}\r\n", "q".repeat(1100)).as_bytes());
    reply.assert_problem(414, "uri_too_long");

    let reply =
        exchange(addr, format!("GET /healthz HTTP/1.1\r\n{close}x-big: {}\r\n\r\n", "b".repeat(5000)).as_bytes());
    reply.assert_problem(431, "headers_too_large");
    let many: String = (0..60).map(|i| format!("x-h{i}: {}\r\n", "c".repeat(80))).collect();
    let reply = exchange(addr, format!("GET /healthz HTTP/1.1\r\n{close}{many}\r\n").as_bytes());
    reply.assert_problem(431, "headers_too_large");

    let reply = exchange(addr, format!("GET /nowhere HTTP/1.1\r\n{close}\r\n").as_bytes());
    reply.assert_problem(404, "not_found");
    // Just under the limits: served.
    let reply = exchange(addr, format!("GET /healthz?{} HTTP/1.1\r\n{close}\r\n", "q".repeat(900)).as_bytes());
    assert_eq!(reply.status, 200, "{reply:?}");
}

/// Under TLS, a client that never completes its handshake is closed after the TLS handshake timeout (1 s here,
/// while the header timeout is 30 s), and the connection caps apply before any handshake.
#[test]
fn a_stalled_tls_handshake_is_closed_after_the_handshake_timeout() {
    let dir = lanyard_testsupport::TempDir::new("limits-tls");
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key_pair.serialize_pem()).unwrap();
    let server = serve(&[
        "--tls-cert",
        cert_file.to_str().unwrap(),
        "--tls-key",
        key_file.to_str().unwrap(),
        "--tls-handshake-timeout-ms",
        "1000",
        "--header-timeout-ms",
        "30000",
        "--max-connections-per-ip",
        "1",
    ]);
    assert!(server.url().starts_with("https://"), "{}", server.url());
    let addr = addr(&server);
    // From an address of its own: the start-up probe's connection from 127.0.0.1 may still hold that address's one
    // slot for a moment after it closed.
    let from = Ipv4Addr::new(127, 0, 0, 2);
    let connected = Instant::now();
    let mut stalled = connect_from(from, addr);
    // The first bytes of a ClientHello record, and then nothing.
    stalled.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
    let mut refused = connect_from(from, addr);
    assert!(closed_within(&mut refused, Duration::from_secs(2)).is_some(), "a second connection from one IP is served");
    closed_within(&mut stalled, Duration::from_secs(5)).expect("a stalled handshake stays open");
    let after = connected.elapsed();
    assert!((Duration::from_millis(900)..Duration::from_secs(3)).contains(&after), "closed after {after:?}");
}

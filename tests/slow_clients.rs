//! Hostile connections over loopback against the real node: slowloris clients (request heads sent a
//! byte at a time, or nothing at all) and idle keep-alive connections are cut off after the header
//! read timeout while normal requests are served meanwhile, and connections beyond the cap are closed at once while the
//! open ones keep working. Bounded in count and time.

mod common;

use std::time::{Duration, Instant};

use common::NodeProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How a slow connection ended.
#[derive(Debug)]
enum Ended {
    /// The server closed it (EOF or reset) after this long.
    ClosedAfter(Duration),
    /// Still open at the test's deadline.
    StillOpen,
}

/// Connects to `addr` and sends an endless request head one byte per `pace` (or nothing, when
/// `trickle` is false) until the server closes the connection or `give_up` passes.
async fn slowloris(addr: String, trickle: bool, pace: Duration, give_up: Duration) -> Ended {
    let started = Instant::now();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = b"GET /core/v1/version HTTP/1.1\r\nHost: localhost\r\nX-Slow: ";
    let mut sent = 0usize;
    let mut ticks = tokio::time::interval(pace);
    let mut buf = [0u8; 1024];
    loop {
        if started.elapsed() > give_up {
            return Ended::StillOpen;
        }
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(n) if n > 0 => continue, // a response (e.g. 408) before the close
                _ => return Ended::ClosedAfter(started.elapsed()),
            },
            _ = ticks.tick() => {
                if trickle {
                    let byte = head.get(sent).copied().unwrap_or(b'a');
                    if stream.write_all(&[byte]).await.is_err() {
                        return Ended::ClosedAfter(started.elapsed());
                    }
                    sent += 1;
                }
            }
        }
    }
}

/// Sends one keep-alive `GET path` on `stream` and returns the status; `None` if the server
/// closed the connection instead of answering.
async fn get(stream: &mut TcpStream, path: &str) -> Option<u16> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut buf).await {
            Ok(n) if n > 0 => received.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_lowercase();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while received.len() < head_end + length {
        match stream.read(&mut buf).await {
            Ok(n) if n > 0 => received.extend_from_slice(&buf[..n]),
            _ => return None,
        }
    }
    Some(status)
}

fn host_port(node: &NodeProcess) -> String {
    node.base_url.trim_start_matches("http://").to_string()
}

#[tokio::test]
async fn slowloris_connections_are_cut_off_while_normal_requests_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(1500);
    let timeout_ms = timeout.as_millis().to_string();
    let node = NodeProcess::dev(
        dir.path(),
        &[("LIT_NODE_HTTP__HEADER_READ_TIMEOUT_MS", &timeout_ms)],
    )
    .await;
    let addr = host_port(&node);
    let give_up = Duration::from_secs(20);
    let slow: Vec<_> = (0..24)
        .map(|i| {
            tokio::spawn(slowloris(
                addr.clone(),
                i % 4 != 0, // every fourth one sends nothing at all
                Duration::from_millis(100),
                give_up,
            ))
        })
        .collect();

    // A keep-alive connection left idle after a request is closed after the timeout as well.
    let idle_after_request = tokio::spawn({
        let addr = addr.clone();
        async move {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            assert_eq!(get(&mut stream, "/core/v1/version").await, Some(200));
            let idle_since = Instant::now();
            let mut buf = [0u8; 64];
            tokio::time::timeout(give_up, stream.read(&mut buf))
                .await
                .map(|_| idle_since.elapsed())
        }
    });

    // Normal requests are answered promptly while the slow connections are open.
    for _ in 0..10 {
        let started = Instant::now();
        let (status, _) = common::api(
            &node.base_url,
            "GET",
            "version",
            None,
            serde_json::Value::Null,
        )
        .await;
        assert_eq!(status, 200);
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "a normal request took {took:?}"
        );
    }

    for task in slow {
        match task.await.unwrap() {
            Ended::ClosedAfter(after) => assert!(
                after >= timeout.mul_f32(0.9) && after < timeout + Duration::from_secs(10),
                "a slow connection was closed after {after:?} (header timeout {timeout:?})"
            ),
            Ended::StillOpen => panic!(
                "a slow connection was still open after {give_up:?} (header timeout {timeout:?})"
            ),
        }
    }
    match idle_after_request.await.unwrap() {
        Ok(after) => assert!(
            after >= timeout.mul_f32(0.9) && after < timeout + Duration::from_secs(10),
            "an idle keep-alive connection was closed after {after:?} (timeout {timeout:?})"
        ),
        Err(_) => panic!("an idle keep-alive connection was still open after {give_up:?}"),
    }
    // And the node still serves.
    let (status, _) = common::api(
        &node.base_url,
        "GET",
        "version",
        None,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(status, 200);
    node.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_and_service_resumes_when_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let cap = 8;
    let node = NodeProcess::dev(
        dir.path(),
        &[("LIT_NODE_HTTP__MAX_CONNECTIONS", &cap.to_string())],
    )
    .await;
    let addr = host_port(&node);
    let mut open = Vec::new();
    for _ in 0..cap {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        assert_eq!(get(&mut stream, "/core/v1/version").await, Some(200));
        open.push(stream);
    }

    // One more is closed without an answer…
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let refused =
        tokio::time::timeout(Duration::from_secs(10), get(&mut extra, "/core/v1/version"))
            .await
            .expect("the connection beyond the cap was neither answered nor closed within 10 s");
    assert_eq!(refused, None, "a connection beyond the cap was served");

    // …while the open ones keep working.
    for stream in &mut open {
        assert_eq!(get(stream, "/core/v1/version").await, Some(200));
    }

    // Closing one makes room for a new connection (the node notices the close asynchronously).
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        if get(&mut stream, "/core/v1/version").await == Some(200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no new connection was served within 10 s after one closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await; // poll interval
    }
    drop(open);
    node.stop().await;
}

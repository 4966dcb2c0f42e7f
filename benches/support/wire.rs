//! The load generator's HTTP/1.1 client: one keep-alive connection per closed-loop client, the
//! request serialised once, each response read by its `Content-Length` (both lit-node and the
//! Node.js baseline send one). It shares the machine with the servers it measures, so it does as
//! little per request as it can — a general-purpose client (reqwest) spent ~9% of the two cores
//! at 5k req/s, CPU the server under test then lacked (the role wrk plays in TOOLCHAIN.md).

use std::net::SocketAddr;

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Request;

/// A request ready to send: where, and its bytes.
pub struct Prepared {
    pub address: SocketAddr,
    bytes: Vec<u8>,
}

impl Prepared {
    pub fn new(request: &Request) -> Result<Self> {
        let url = reqwest::Url::parse(&request.url).context("request URL")?;
        let host = url.host_str().context("URL without host")?;
        let port = url.port_or_known_default().context("URL without port")?;
        let address: SocketAddr = format!("{host}:{port}")
            .parse()
            .with_context(|| format!("the load client wants an IP address, got {host}"))?;
        let mut target = url.path().to_string();
        if let Some(query) = url.query() {
            target.push('?');
            target.push_str(query);
        }
        let mut head = format!(
            "{} {target} HTTP/1.1\r\nhost: {host}:{port}\r\nuser-agent: lit-node-bench\r\n",
            request.method
        );
        if let Some(key) = &request.key {
            head.push_str(&format!("x-api-key: {key}\r\n"));
        }
        let body = request.body.as_deref().map(Vec::as_slice).unwrap_or(&[]);
        if request.body.is_some() {
            head.push_str("content-type: application/json\r\n");
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        Ok(Self { address, bytes })
    }
}

/// One keep-alive connection.
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

/// What a response held: its status and body.
pub struct Reply<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

impl Connection {
    pub async fn open(address: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends `request` and reads the whole response.
    pub async fn exchange(&mut self, request: &Prepared) -> Result<Reply<'_>> {
        self.stream.write_all(&request.bytes).await?;
        self.buffer.clear();
        let (head_end, status, length) = loop {
            if let Some(parsed) = parse_head(&self.buffer)? {
                break parsed;
            }
            self.read_more().await?;
        };
        while self.buffer.len() < head_end + length {
            self.read_more().await?;
        }
        if self.buffer.len() > head_end + length {
            bail!("the server sent more than one response");
        }
        Ok(Reply {
            status,
            body: &self.buffer[head_end..],
        })
    }

    async fn read_more(&mut self) -> Result<()> {
        let mut chunk = [0u8; 16 * 1024];
        let read = self.stream.read(&mut chunk).await?;
        if read == 0 {
            bail!("the server closed the connection");
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

/// `(end of the head, status, Content-Length)` once the head is complete.
fn parse_head(buffer: &[u8]) -> Result<Option<(usize, u16, usize)>> {
    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buffer[..end]).context("response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {status_line:?}"))?;
    let length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.trim().parse::<usize>())
        .context("response without Content-Length")?
        .context("bad Content-Length")?;
    Ok(Some((end + 4, status, length)))
}

//! The node's log output: `tracing` events to stderr as text or JSON lines, filtered by
//! `LIT_NODE_LOG` (default `info`). Every line passes through [`crate::redact::urls_in`] on its way
//! out, so a URL logged by any crate (alloy's transport spans carry the whole RPC URL at debug
//! level) shows only its `scheme://host[:port]`.

use std::io::Write;

use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogFormat, ENV_LOG};

/// Installs the global subscriber. Call once, at start-up.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env(ENV_LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(RedactedStderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Makes one [`RedactedLine`] writer per event.
struct RedactedStderr;

impl<'a> MakeWriter<'a> for RedactedStderr {
    type Writer = RedactedLine<std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactedLine(std::io::stderr())
    }
}

/// Writes what it is given to `W` with every URL reduced to its endpoint. The formatter hands
/// over each event whole, in one `write`, so a URL is never split between two writes.
struct RedactedLine<W>(W);

impl<W: Write> Write for RedactedLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        self.0.write_all(crate::redact::urls_in(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_reduced_to_their_endpoint_on_the_way_out() {
        let mut out = Vec::new();
        let line =
            b"DEBUG ReqwestTransport{url=http://localhost:8545/?apikey=SECRETKEY}: connecting\n";
        let written = RedactedLine(&mut out).write(line).unwrap();
        assert_eq!(written, line.len());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "DEBUG ReqwestTransport{url=http://localhost:8545}: connecting\n"
        );
    }
}

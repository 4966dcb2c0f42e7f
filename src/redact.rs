//! Redaction of chain endpoints: an RPC or WebSocket URL often carries a provider key (in its
//! userinfo, path or query: `https://x.g.alchemy.com/v2/KEY`, `…/?apikey=KEY`), so a URL leaves
//! the process — in a response, `/health`, a log line or an error message — only as
//! `scheme://host[:port]`. [`endpoint`] shows one URL that way; [`urls_in`] rewrites every URL in
//! a text (transport errors quote the whole URL they failed on).

use std::borrow::Cow;

/// `scheme://host[:port]` of `url`; never its userinfo, path, query or fragment. A text that is
/// not a URL with a host is shown as `<unparseable URL>`.
pub fn endpoint(url: &str) -> String {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        return "<unparseable URL>".into();
    };
    match (parsed.host_str(), parsed.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", parsed.scheme()),
        (Some(host), None) => format!("{}://{host}", parsed.scheme()),
        (None, _) => "<unparseable URL>".into(),
    }
}

/// Characters that end a URL in prose (`(url)`, `url.`, `{url=…}:`), kept as the text's own.
const TRAILING_PUNCTUATION: &[char] = &[')', ']', '}', '>', ',', '.', ';', ':', '!', '?'];

/// `text` with every URL in it (`scheme://…` up to a space, quote, control character or
/// backslash) replaced by its [`endpoint`]. Punctuation ending the URL is kept as the text's own.
pub fn urls_in(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        let scheme_start = scheme_start(&rest[..found]);
        let end = rest[found..]
            .find(|c: char| {
                c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '`' | '\\')
            })
            .map_or(rest.len(), |i| found + i);
        let token_end = scheme_start
            + rest[scheme_start..end]
                .trim_end_matches(TRAILING_PUNCTUATION)
                .len();
        out.push_str(&rest[..scheme_start]);
        out.push_str(&endpoint(&rest[scheme_start..token_end]));
        out.push_str(&rest[token_end..end]);
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Where the scheme ending `before` (the text up to a `://`) starts; `before.len()` when none.
/// A web scheme glued to the text before it (`\x1b[0mhttp`, as coloured logs write a field's
/// value) starts at that web scheme.
fn scheme_start(before: &str) -> usize {
    let run = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .map_or(0, |i| i + 1);
    let lower = before[run..].to_ascii_lowercase();
    for web in ["https", "http", "wss", "ws"] {
        if lower.ends_with(web) {
            return before.len() - web.len();
        }
    }
    // Otherwise the scheme starts at the run's first letter (RFC 3986: ALPHA *( ALPHA / DIGIT /
    // "+" / "-" / "." )).
    before[run..]
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or(before.len(), |i| run + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_keeps_only_scheme_host_and_port() {
        for (url, shown) in [
            ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
            ("http://127.0.0.1:8545/", "http://127.0.0.1:8545"),
            (
                "http://localhost:8545/?apikey=SECRETKEY",
                "http://localhost:8545",
            ),
            (
                "https://user:SECRETKEY@rpc.example.com/",
                "https://rpc.example.com",
            ),
            (
                "https://SECRETKEY@rpc.example.com:8443/x",
                "https://rpc.example.com:8443",
            ),
            (
                "https://eth-mainnet.g.alchemy.com/v2/SECRETKEY",
                "https://eth-mainnet.g.alchemy.com",
            ),
            (
                "wss://mainnet.infura.io/ws/v3/SECRETKEY#SECRETKEY",
                "wss://mainnet.infura.io",
            ),
            ("ws://[::1]:8546/SECRETKEY", "ws://[::1]:8546"),
            (" http://h:1/SECRETKEY\n", "http://h:1"),
        ] {
            assert_eq!(endpoint(url), shown, "{url}");
        }
        assert_eq!(endpoint("not a url SECRETKEY"), "<unparseable URL>");
        assert_eq!(endpoint("unix:/SECRETKEY"), "<unparseable URL>");
    }

    #[test]
    fn every_url_in_a_text_is_reduced_to_its_endpoint() {
        let cases = [
            (
                "error sending request for url (http://localhost:8545/?apikey=SECRETKEY)",
                "error sending request for url (http://localhost:8545)",
            ),
            (
                "cannot reach https://u:SECRETKEY@a.example/v2/SECRETKEY, nor wss://b.example/SECRETKEY.",
                "cannot reach https://a.example, nor wss://b.example.",
            ),
            // JSON logs: the URL ends at the closing quote.
            (
                r#"{"url":"https://a.example/v2/SECRETKEY","msg":"x"}"#,
                r#"{"url":"https://a.example","msg":"x"}"#,
            ),
            // Coloured text logs: the URL starts after and ends at an escape sequence.
            (
                "url\u{1b}[2m=\u{1b}[0mhttps://a.example/?k=SECRETKEY\u{1b}[1m}",
                "url\u{1b}[2m=\u{1b}[0mhttps://a.example\u{1b}[1m}",
            ),
            ("x=0mgit+ssh://h/SECRETKEY", "x=0mgit+ssh://h"),
            // A key containing a parenthesis is still cut out whole.
            ("(http://h/?k=SEC)RETKEY)", "(http://h)"),
            ("no urls here", "no urls here"),
            // Without a scheme it is no URL, but may still hold a key.
            ("x ://u:SECRETKEY@h and http://h:1/SECRETKEY", "x <unparseable URL> and http://h:1"),
            ("garbage http://[SECRETKEY", "garbage <unparseable URL>"),
        ];
        for (text, shown) in cases {
            assert_eq!(urls_in(text), shown, "{text}");
        }
        assert!(matches!(urls_in("plain"), Cow::Borrowed(_)));
    }
}

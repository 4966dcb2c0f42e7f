//! Natives with no run state, for the prelude and the web classes: UTF-8, random bytes, digests
//! and URL parsing.

use rquickjs::function::Opt;
use rquickjs::{Ctx, Exception, Object, TypedArray};
use sha2::Digest;

use crate::actions::js_bytes::{bytes_of, random_uint8_array, uint8_array};

fn url_parts<'js>(ctx: &Ctx<'js>, url: &url::Url) -> rquickjs::Result<Object<'js>> {
    use url::quirks;
    let parts = Object::new(ctx.clone())?;
    parts.set("href", quirks::href(url))?;
    parts.set("origin", quirks::origin(url))?;
    parts.set("protocol", quirks::protocol(url))?;
    parts.set("username", quirks::username(url))?;
    parts.set("password", quirks::password(url))?;
    parts.set("host", quirks::host(url))?;
    parts.set("hostname", quirks::hostname(url))?;
    parts.set("port", quirks::port(url))?;
    parts.set("pathname", quirks::pathname(url))?;
    parts.set("search", quirks::search(url))?;
    parts.set("hash", quirks::hash(url))?;
    Ok(parts)
}

fn invalid_url(ctx: &Ctx<'_>, text: &str) -> rquickjs::Error {
    Exception::throw_type(ctx, &format!("Invalid URL: {text}"))
}

/// Text, bytes, digests and URLs for the prelude and the web classes (no run state).
pub(super) fn util_natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let object = Object::new(ctx.clone())?;
    native!(object, ctx, "utf8Encode", |ctx: Ctx<'js>, text: String| {
        uint8_array(&ctx, text.into_bytes())
    });
    native!(
        object,
        ctx,
        "utf8Decode",
        |ctx: Ctx<'js>, bytes: TypedArray<'js, u8>, fatal: bool| {
            let bytes = bytes_of(&bytes);
            match String::from_utf8(bytes) {
                Ok(text) => Ok(text),
                Err(_) if fatal => Err(Exception::throw_type(
                    &ctx,
                    "The encoded data was not valid for encoding utf-8",
                )),
                Err(e) => Ok(String::from_utf8_lossy(e.as_bytes()).into_owned()),
            }
        }
    );
    native!(object, ctx, "randomBytes", |ctx: Ctx<'js>, len: usize| {
        random_uint8_array(&ctx, len)
    });
    native!(
        object,
        ctx,
        "digest",
        |ctx: Ctx<'js>, algorithm: String, data: TypedArray<'js, u8>| {
            let data = bytes_of(&data);
            let out = match algorithm.as_str() {
                "sha256" => sha2::Sha256::digest(&data).to_vec(),
                "sha384" => sha2::Sha384::digest(&data).to_vec(),
                "sha512" => sha2::Sha512::digest(&data).to_vec(),
                other => {
                    return Err(Exception::throw_message(
                        &ctx,
                        &format!("unsupported digest {other}"),
                    ))
                }
            };
            uint8_array(&ctx, out)
        }
    );
    native!(
        object,
        ctx,
        "parseUrl",
        |ctx: Ctx<'js>, href: String, base: Opt<Option<String>>| {
            let parsed = match base.0.flatten() {
                Some(base) => url::Url::parse(&base).and_then(|b| b.join(&href)),
                None => url::Url::parse(&href),
            };
            match parsed {
                Ok(url) => url_parts(&ctx, &url),
                Err(_) => Err(invalid_url(&ctx, &href)),
            }
        }
    );
    native!(
        object,
        ctx,
        "setUrlPart",
        |ctx: Ctx<'js>, href: String, part: String, value: String| {
            use url::quirks;
            let mut url = url::Url::parse(&href).map_err(|_| invalid_url(&ctx, &href))?;
            match part.as_str() {
                "href" => {
                    url = url::Url::parse(&value).map_err(|_| invalid_url(&ctx, &value))?;
                }
                "protocol" => {
                    let _ = quirks::set_protocol(&mut url, &value);
                }
                "username" => {
                    let _ = quirks::set_username(&mut url, &value);
                }
                "password" => {
                    let _ = quirks::set_password(&mut url, &value);
                }
                "host" => {
                    let _ = quirks::set_host(&mut url, &value);
                }
                "hostname" => {
                    let _ = quirks::set_hostname(&mut url, &value);
                }
                "port" => {
                    let _ = quirks::set_port(&mut url, &value);
                }
                "pathname" => quirks::set_pathname(&mut url, &value),
                "search" => quirks::set_search(&mut url, &value),
                "hash" => quirks::set_hash(&mut url, &value),
                _ => {}
            }
            url_parts(&ctx, &url)
        }
    );

    Ok(object)
}

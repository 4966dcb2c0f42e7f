//! Where an `import` specifier leads: the rules of the reference system for pinned npm packages on
//! a jsDelivr-style CDN, and nothing else. `zod@3.22.4` → `<cdn>/npm/zod@3.22.4/+esm`; a path
//! after the version (`date-fns@3.6.0/esm/index.js`) is kept as is; `/npm/dep@1.2.3/+esm` (what
//! jsDelivr's `+esm` files import) and full `<cdn>/npm/...` URLs are accepted. Refused: a package
//! without an exact version, a range (`^3`), a tag (`latest`), another origin, and relative paths
//! in the action's own code (inside a CDN module they resolve against that module's URL and must
//! stay in its package). An inline `#sha384-…` fragment is split off as the expected integrity.

use url::Url;

/// A specifier resolved to a CDN URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The canonical URL (no fragment).
    pub url: String,
    /// The `sha384-…` integrity written after `#` in the specifier, if any.
    pub inline_integrity: Option<String>,
}

/// Why a specifier cannot be imported; the text names the specifier and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SpecifierError(pub String);

fn refuse(message: String) -> SpecifierError {
    SpecifierError(message)
}

/// An exact semantic version: `MAJOR.MINOR.PATCH`, optional `-prerelease` and `+build`.
fn is_exact_version(version: &str) -> bool {
    let core_end = version.find(['-', '+']).unwrap_or(version.len());
    let (core, rest) = version.split_at(core_end);
    let numbers: Vec<&str> = core.split('.').collect();
    let numeric = |n: &&str| {
        !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n.len() == 1 || !n.starts_with('0'))
    };
    let tail_ok = rest.is_empty()
        || (rest.len() > 1
            && rest[1..].split(['.', '+']).all(|p| {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    numbers.len() == 3 && numbers.iter().all(numeric) && tail_ok
}

/// A package name as npm allows it: lowercase letters, digits, `-._~`, optionally `@scope/`.
fn is_package_name(name: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 214
            && !p.starts_with(['.', '_'])
            && p.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'-' | b'.' | b'_' | b'~')
            })
    };
    match name.strip_prefix('@') {
        Some(scoped) => {
            matches!(scoped.split_once('/'), Some((scope, pkg)) if part(scope) && part(pkg))
        }
        None => part(name),
    }
}

/// Splits `name@version/rest` (name possibly scoped) into its parts, checking each; `what` is the
/// specifier as written, for messages.
fn package_path<'a>(
    path: &'a str,
    what: &str,
) -> Result<(&'a str, &'a str, &'a str), SpecifierError> {
    let name_end = if path.starts_with('@') {
        path.find('/').map(|slash| {
            slash
                + 1
                + path[slash + 1..]
                    .find(['@', '/'])
                    .unwrap_or(path.len() - slash - 1)
        })
    } else {
        path.find(['@', '/']).or(Some(path.len()))
    }
    .unwrap_or(path.len());
    let name = &path[..name_end];
    let rest = &path[name_end..];
    if !is_package_name(name) {
        return Err(refuse(format!(
            "cannot import \"{what}\": \"{name}\" is not an npm package name; write a pinned package such as \"zod@3.22.4\""
        )));
    }
    let Some(after_at) = rest.strip_prefix('@') else {
        return Err(refuse(format!(
            "cannot import \"{what}\": the package needs an exact version, e.g. \"{name}@1.2.3\""
        )));
    };
    let version_end = after_at.find('/').unwrap_or(after_at.len());
    let (version, tail) = after_at.split_at(version_end);
    if !is_exact_version(version) {
        return Err(refuse(format!(
            "cannot import \"{what}\": \"{version}\" is not an exact version (ranges and tags such as \"^3\" or \"latest\" are refused); pin one, e.g. \"{name}@1.2.3\""
        )));
    }
    Ok((name, version, tail))
}

/// The CDN URL of `/npm/<package path>`, checked; an empty path after the version means `+esm`.
fn npm_url(cdn: &Url, package: &str, what: &str) -> Result<String, SpecifierError> {
    let (name, version, tail) = package_path(package, what)?;
    let tail = match tail {
        "" | "/" => "/+esm",
        other => other,
    };
    if tail
        .split('/')
        .any(|segment| segment == ".." || segment == ".")
    {
        return Err(refuse(format!(
            "cannot import \"{what}\": the path may not contain . or .. segments"
        )));
    }
    Ok(format!("{}npm/{name}@{version}{tail}", cdn.as_str()))
}

/// `cdn` is the configured CDN origin (e.g. `https://cdn.jsdelivr.net/`); `importer` is the URL of
/// the module whose code holds the import, or `None` for the action's own code.
pub fn resolve(
    specifier: &str,
    importer: Option<&str>,
    cdn: &Url,
) -> Result<Resolved, SpecifierError> {
    let (body, fragment) = match specifier.split_once('#') {
        Some((body, fragment)) => (body, Some(fragment)),
        None => (specifier, None),
    };
    let inline_integrity = match fragment {
        None => None,
        Some(f) if f.starts_with("sha384-") => Some(f.to_string()),
        Some(f) => {
            return Err(refuse(format!(
                "cannot import \"{specifier}\": the fragment \"#{f}\" is not a sha384-<base64> integrity"
            )))
        }
    };
    let url = if body.starts_with("https://") || body.starts_with("http://") {
        let parsed =
            Url::parse(body).map_err(|e| refuse(format!("cannot import \"{specifier}\": {e}")))?;
        if parsed.origin() != cdn.origin() {
            return Err(refuse(format!(
                "cannot import \"{specifier}\": modules come only from {} (the node's CDN)",
                cdn.origin().ascii_serialization()
            )));
        }
        match parsed.path().strip_prefix("/npm/") {
            Some(package) if parsed.query().is_none() => npm_url(cdn, package, specifier)?,
            _ => {
                return Err(refuse(format!(
                "cannot import \"{specifier}\": only {}npm/<package>@<version>/… URLs are served",
                cdn.as_str()
            )))
            }
        }
    } else if let Some(package) = body.strip_prefix("/npm/") {
        npm_url(cdn, package, specifier)?
    } else if body.starts_with("./") || body.starts_with("../") || body.starts_with('/') {
        let Some(importer) = importer else {
            return Err(refuse(format!(
                "cannot import \"{specifier}\": relative paths have nothing to resolve against in an action; import a pinned package such as \"zod@3.22.4\""
            )));
        };
        let base = Url::parse(importer)
            .map_err(|e| refuse(format!("bad importer URL {importer}: {e}")))?;
        let joined = base
            .join(body)
            .map_err(|e| refuse(format!("cannot import \"{specifier}\": {e}")))?;
        let package_root = |u: &Url| -> Option<String> {
            let path = u.path().strip_prefix("/npm/")?;
            let (name, version, _) = package_path(path, specifier).ok()?;
            Some(format!("{name}@{version}"))
        };
        if joined.origin() != cdn.origin()
            || package_root(&joined).is_none()
            || package_root(&joined) != package_root(&base)
        {
            return Err(refuse(format!(
                "cannot import \"{specifier}\" from {importer}: a relative import must stay inside its package"
            )));
        }
        joined.to_string()
    } else {
        npm_url(cdn, body, specifier)?
    };
    Ok(Resolved {
        url,
        inline_integrity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdn() -> Url {
        Url::parse("https://cdn.jsdelivr.net").unwrap()
    }

    fn url(specifier: &str, importer: Option<&str>) -> Result<String, String> {
        resolve(specifier, importer, &cdn())
            .map(|r| r.url)
            .map_err(|e| e.0)
    }

    #[test]
    fn pinned_packages_resolve_to_their_esm_url() {
        assert_eq!(
            url("zod@3.22.4", None).unwrap(),
            "https://cdn.jsdelivr.net/npm/zod@3.22.4/+esm"
        );
        assert_eq!(
            url("zod@3.22.4/+esm", None).unwrap(),
            "https://cdn.jsdelivr.net/npm/zod@3.22.4/+esm"
        );
        assert_eq!(
            url("date-fns@3.6.0/esm/index.js", None).unwrap(),
            "https://cdn.jsdelivr.net/npm/date-fns@3.6.0/esm/index.js"
        );
        assert_eq!(
            url("@noble/hashes@1.4.0/sha256", None).unwrap(),
            "https://cdn.jsdelivr.net/npm/@noble/hashes@1.4.0/sha256"
        );
        assert_eq!(
            url("@scope/pkg@1.0.0-beta.1", None).unwrap(),
            "https://cdn.jsdelivr.net/npm/@scope/pkg@1.0.0-beta.1/+esm"
        );
        assert_eq!(
            url("https://cdn.jsdelivr.net/npm/uuid@9.0.1/+esm", None).unwrap(),
            "https://cdn.jsdelivr.net/npm/uuid@9.0.1/+esm"
        );
        assert_eq!(
            url(
                "/npm/zod@3.22.4/+esm",
                Some("https://cdn.jsdelivr.net/npm/a@1.0.0/+esm")
            )
            .unwrap(),
            "https://cdn.jsdelivr.net/npm/zod@3.22.4/+esm"
        );
        let inline = resolve("zod@3.22.4#sha384-abc", None, &cdn()).unwrap();
        assert_eq!(inline.url, "https://cdn.jsdelivr.net/npm/zod@3.22.4/+esm");
        assert_eq!(inline.inline_integrity.as_deref(), Some("sha384-abc"));
    }

    #[test]
    fn unpinned_ranges_tags_relative_and_other_origins_are_refused() {
        let refused = |s: &str, expect: &str| {
            let error = url(s, None).unwrap_err();
            assert!(error.contains(expect), "{s}: {error}");
        };
        refused("zod", "needs an exact version");
        refused("@scope/pkg", "needs an exact version");
        refused("zod@^3", "not an exact version");
        refused("zod@~3.22.0", "not an exact version");
        refused("zod@3", "not an exact version");
        refused("zod@3.x", "not an exact version");
        refused("zod@latest", "not an exact version");
        refused("zod@03.1.0", "not an exact version");
        refused("./local.js", "relative paths");
        refused("../up.js", "relative paths");
        refused(
            "https://evil.example/npm/zod@3.22.4/+esm",
            "modules come only from https://cdn.jsdelivr.net",
        );
        refused(
            "http://cdn.jsdelivr.net/npm/zod@3.22.4/+esm",
            "modules come only from",
        );
        refused(
            "https://cdn.jsdelivr.net/gh/user/repo/x.js",
            "only https://cdn.jsdelivr.net/npm/",
        );
        refused("node:fs", "not an npm package name");
        refused("Zod@3.22.4", "not an npm package name");
        refused("zod@3.22.4#md5-x", "not a sha384");
        refused("zod@3.22.4/../../etc", ". or .. segments");
    }

    #[test]
    fn relative_imports_inside_a_cdn_module_stay_in_its_package() {
        let importer = "https://cdn.jsdelivr.net/npm/date-fns@3.6.0/esm/index.js";
        assert_eq!(
            url("./addDays.js", Some(importer)).unwrap(),
            "https://cdn.jsdelivr.net/npm/date-fns@3.6.0/esm/addDays.js"
        );
        assert_eq!(
            url("../locale/en-US.js", Some(importer)).unwrap(),
            "https://cdn.jsdelivr.net/npm/date-fns@3.6.0/locale/en-US.js"
        );
        assert!(url("../../zod@3.22.4/+esm", Some(importer))
            .unwrap_err()
            .contains("stay inside its package"));
    }
}

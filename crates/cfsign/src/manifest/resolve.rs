//! RFC 3986 §5.2 reference resolution, on text, with no re-encoding: a manifest's
//! relative URI is resolved against the manifest's URL to decide whether the
//! signed resource covers it. The result is what a player requests (hls.js and
//! dash.js resolve with the browser's URL parser, which gives the same text for
//! references that satisfy the encoding contract; anything else is refused by
//! [`SignableUrl::parse`](crate::SignableUrl::parse) afterwards).

/// The scheme of `reference`, if it has one (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`
/// before any `/`, `?` or `#`).
pub(crate) fn scheme_of(reference: &str) -> Option<&str> {
    let colon = reference.find(':')?;
    let scheme = &reference[..colon];
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    (first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
    .then_some(scheme)
}

/// Writes into `out` the absolute URL that `reference` (no fragment) names when
/// resolved against `base` (an absolute `scheme://authority/path[?query]`).
pub(crate) fn resolve_into(base: &str, reference: &str, out: &mut String) {
    out.clear();
    let (scheme_end, authority_end) = split_base(base);
    let (ref_path, ref_query) = match reference.find('?') {
        Some(q) => (&reference[..q], Some(&reference[q..])),
        None => (reference, None),
    };
    if scheme_of(reference).is_some() {
        // Absolute: only its dot segments are removed.
        match reference.find("://") {
            Some(sep) => {
                let authority_end = reference[sep + 3..]
                    .find(['/', '?'])
                    .map_or(reference.len(), |i| sep + 3 + i);
                out.push_str(&reference[..authority_end]);
                push_path(
                    out,
                    &reference[authority_end..ref_path.len().max(authority_end)],
                );
                if let Some(q) = ref_query {
                    out.push_str(q);
                }
            }
            None => out.push_str(reference),
        }
        return;
    }
    if let Some(network) = reference.strip_prefix("//") {
        out.push_str(&base[..scheme_end]);
        out.push_str("//");
        let authority_len = network.find(['/', '?']).unwrap_or(network.len());
        out.push_str(&network[..authority_len]);
        let rest = &network[authority_len..];
        let path_len = rest.find('?').unwrap_or(rest.len());
        push_path(out, &rest[..path_len]);
        out.push_str(&rest[path_len..]);
        return;
    }
    out.push_str(&base[..authority_end]);
    let base_rest = &base[authority_end..];
    let (base_path, base_query) = match base_rest.find('?') {
        Some(q) => (&base_rest[..q], &base_rest[q..]),
        None => (base_rest, ""),
    };
    if ref_path.is_empty() {
        out.push_str(base_path);
        out.push_str(ref_query.unwrap_or(base_query));
        return;
    }
    if ref_path.starts_with('/') {
        push_path(out, ref_path);
    } else {
        let directory = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
        if directory.is_empty() {
            out.push('/');
        }
        if has_dot_segment(ref_path) || has_dot_segment(directory) {
            let mut merged = String::with_capacity(directory.len() + ref_path.len() + 1);
            merged.push_str(directory);
            merged.push_str(ref_path);
            push_path(out, &merged);
        } else {
            out.push_str(directory);
            out.push_str(ref_path);
        }
    }
    if let Some(q) = ref_query {
        out.push_str(q);
    }
}

/// Offsets in `base` of the end of `scheme:` and of the authority.
fn split_base(base: &str) -> (usize, usize) {
    let scheme_end = base.find(':').map_or(0, |i| i + 1);
    let after = base[scheme_end..]
        .strip_prefix("//")
        .map_or(scheme_end, |_| scheme_end + 2);
    let authority_end = base[after..]
        .find(['/', '?'])
        .map_or(base.len(), |i| after + i);
    (scheme_end, authority_end)
}

fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|s| s == "." || s == "..")
}

/// Appends `path` with its dot segments removed (RFC 3986 §5.2.4).
fn push_path(out: &mut String, path: &str) {
    if !has_dot_segment(path) {
        out.push_str(path);
        return;
    }
    let mut segments: Vec<&str> = Vec::new();
    let absolute = path.starts_with('/');
    let body = path.strip_prefix('/').unwrap_or(path);
    let parts: Vec<&str> = body.split('/').collect();
    let last = parts.len() - 1;
    let mut trailing_slash = false;
    for (i, segment) in parts.into_iter().enumerate() {
        match segment {
            "." => trailing_slash = i == last,
            ".." => {
                segments.pop();
                trailing_slash = i == last;
            }
            s => {
                segments.push(s);
                trailing_slash = false;
            }
        }
    }
    if absolute {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if trailing_slash && !segments.is_empty() {
        out.push('/');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(base: &str, reference: &str) -> String {
        let mut out = String::new();
        resolve_into(base, reference, &mut out);
        out
    }

    /// RFC 3986 §5.4.1 and §5.4.2, for the references without fragments and with
    /// http(s) in place of the RFC's `http://a/b/c/d;p?q`.
    #[test]
    fn rfc_3986_examples() {
        let base = "http://a/b/c/d;p?q";
        for (reference, want) in [
            ("g:h", "g:h"),
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y", "http://a/b/c/g;x?y"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("https://x.net/a/../b.ts?v=1", "https://x.net/b.ts?v=1"),
        ] {
            assert_eq!(resolve(base, reference), want, "reference {reference:?}");
        }
    }

    #[test]
    fn schemes() {
        assert_eq!(scheme_of("skd://key"), Some("skd"));
        assert_eq!(scheme_of("data:text/plain,x"), Some("data"));
        assert_eq!(scheme_of("seg:1.ts"), Some("seg"));
        assert_eq!(scheme_of("./seg:1.ts"), None);
        assert_eq!(scheme_of("1seg:x"), None);
        assert_eq!(scheme_of("seg.ts"), None);
    }
}

//! The decision table from the readings in `docs/compression.md`, the header
//! rewrite, and the encoders checked against independent decoders (flate2's
//! inflate, the `brotli-decompressor` crate).

use std::io::{self, Read as _};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt as _, stream};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header};

use super::*;
use crate::origin::BodyStream;

fn accept(values: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for v in values {
        headers.append(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
    }
    headers
}

#[test]
fn negotiation_table() {
    use Encoding::{Brotli, Gzip};
    let table: &[(&str, Option<Encoding>)] = &[
        ("gzip", Some(Gzip)),
        ("br", Some(Brotli)),
        // Both: Brotli, whatever the order and the weights (CloudFront prefers it).
        ("gzip, br", Some(Brotli)),
        ("br, gzip", Some(Brotli)),
        ("gzip, deflate, br, zstd", Some(Brotli)),
        ("gzip;q=1.0, br;q=0.1", Some(Brotli)),
        // q=0 refuses, in any spelling of zero; any weight above 0 accepts.
        ("br;q=0, gzip", Some(Gzip)),
        ("gzip;q=0", None),
        ("br;q=0.000, gzip;q=0.0", None),
        ("br;q=0.001", Some(Brotli)),
        ("br;q=1, gzip;q=1.000", Some(Brotli)),
        ("gzip, gzip;q=0", None),
        // Case of tokens and of the parameter name.
        ("GZIP", Some(Gzip)),
        ("Br", Some(Brotli)),
        ("br;Q=0, gzip", Some(Gzip)),
        ("x-gzip", Some(Gzip)),
        // Whitespace and empty list elements.
        ("gzip ; q=0.5", Some(Gzip)),
        (" , ,br , ", Some(Brotli)),
        // `*` and identity never select an encoding.
        ("*", None),
        ("*;q=1", None),
        ("gzip, *;q=0", Some(Gzip)),
        ("identity", None),
        ("identity;q=0", None),
        ("identity, *;q=0", None),
        // Codings the edge does not produce.
        ("deflate, zstd, sdch, compress", None),
        // Garbage: invalid weights drop their element, lookalikes are not tokens.
        ("", None),
        ("gzip;q=abc", None),
        ("br;q=1.5, gzip", Some(Gzip)),
        ("br;q=.5, gzip", Some(Gzip)),
        ("br;q=0.0001", None),
        ("br;q, gzip", Some(Gzip)),
        ("brotli, gzipped, \"gzip\"", None),
        (";;;", None),
    ];
    for (value, expected) in table {
        assert_eq!(
            negotiate(&accept(&[value])),
            *expected,
            "Accept-Encoding: {value}"
        );
    }
    assert_eq!(negotiate(&HeaderMap::new()), None, "no Accept-Encoding");
}

#[test]
fn negotiation_reads_every_accept_encoding_line() {
    assert_eq!(negotiate(&accept(&["gzip", "br"])), Some(Encoding::Brotli));
    assert_eq!(
        negotiate(&accept(&["br", "br;q=0", "gzip"])),
        Some(Encoding::Gzip)
    );
    // A line that is not visible ASCII is ignored, the others still count.
    let mut headers = HeaderMap::new();
    headers.append(
        header::ACCEPT_ENCODING,
        HeaderValue::from_bytes(b"br, \xff").unwrap(),
    );
    assert_eq!(negotiate(&headers), None);
    headers.append(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    assert_eq!(negotiate(&headers), Some(Encoding::Gzip));
}

#[test]
fn content_types() {
    for listed in CONTENT_TYPES {
        assert!(is_compressible(Some(listed)), "{listed}");
    }
    assert_eq!(CONTENT_TYPES.len(), 48);
    for yes in [
        "text/html; charset=utf-8",
        "text/css;charset=UTF-8",
        "TEXT/HTML",
        "Application/Javascript",
        " application/json ",
        "image/svg+xml; charset=utf-8",
        "application/xml;",
    ] {
        assert!(is_compressible(Some(yes)), "{yes}");
    }
    for no in [
        "image/png",
        "image/jpeg",
        "video/mp4",
        "application/octet-stream",
        "application/zip",
        "text/markdown",
        "application/javascriptx",
        "application/json-seq",
        "text/html-fragment",
        "text",
        "",
        "; text/html",
    ] {
        assert!(!is_compressible(Some(no)), "{no}");
    }
    assert!(!is_compressible(None));
}

/// A compressible 200: text/html, 5000 bytes, strong ETag.
fn object() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("5000"));
    h.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
    h
}

fn decide_with(
    request: &HeaderMap,
    status: StatusCode,
    response: &HeaderMap,
) -> Result<Encoding, Skip> {
    decide(Version::HTTP_11, &Method::GET, request, status, response)
}

#[test]
fn statuses() {
    let gzip = accept(&["gzip"]);
    for ok in [StatusCode::OK, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND] {
        assert_eq!(
            decide_with(&gzip, ok, &object()),
            Ok(Encoding::Gzip),
            "{ok}"
        );
    }
    for other in [
        201, 203, 204, 206, 301, 302, 304, 400, 410, 412, 416, 500, 502, 503,
    ] {
        let status = StatusCode::from_u16(other).unwrap();
        assert_eq!(
            decide_with(&gzip, status, &object()),
            Err(Skip::Status),
            "{status}"
        );
    }
}

#[test]
fn methods() {
    let gzip = accept(&["gzip"]);
    for method in [Method::GET, Method::HEAD] {
        let r = decide(Version::HTTP_11, &method, &gzip, StatusCode::OK, &object());
        assert_eq!(r, Ok(Encoding::Gzip), "{method}");
    }
    for method in [
        Method::POST,
        Method::PUT,
        Method::OPTIONS,
        Method::DELETE,
        Method::PATCH,
    ] {
        let r = decide(Version::HTTP_11, &method, &gzip, StatusCode::OK, &object());
        assert_eq!(r, Err(Skip::Method), "{method}");
    }
}

#[test]
fn size_bounds() {
    let br = accept(&["br"]);
    let with_length = |value: &str| {
        let mut h = object();
        h.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from_str(value).unwrap(),
        );
        decide_with(&br, StatusCode::OK, &h)
    };
    assert_eq!(with_length("0"), Err(Skip::TooSmall));
    assert_eq!(with_length("999"), Err(Skip::TooSmall));
    assert_eq!(with_length("1000"), Ok(Encoding::Brotli));
    assert_eq!(with_length("10000000"), Ok(Encoding::Brotli));
    assert_eq!(with_length("10000001"), Err(Skip::TooLarge));
    assert_eq!(with_length("01000"), Ok(Encoding::Brotli));
    for invalid in [
        "",
        "abc",
        "-5",
        "+1000",
        "1e4",
        "1000, 1000",
        " 1000",
        "99999999999999999999999",
    ] {
        assert_eq!(
            with_length(invalid),
            Err(Skip::NoContentLength),
            "{invalid:?}"
        );
    }
    let mut missing = object();
    missing.remove(header::CONTENT_LENGTH);
    assert_eq!(
        decide_with(&br, StatusCode::OK, &missing),
        Err(Skip::NoContentLength)
    );
    let mut twice = object();
    twice.append(header::CONTENT_LENGTH, HeaderValue::from_static("5000"));
    assert_eq!(
        decide_with(&br, StatusCode::OK, &twice),
        Err(Skip::NoContentLength)
    );
}

#[test]
fn response_side_conditions() {
    let gzip = accept(&["gzip"]);
    for encoding in ["gzip", "br", "identity", ""] {
        let mut h = object();
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_str(encoding).unwrap(),
        );
        assert_eq!(
            decide_with(&gzip, StatusCode::OK, &h),
            Err(Skip::AlreadyEncoded),
            "{encoding:?}"
        );
    }
    for no_transform in ["no-transform", "public, No-Transform, max-age=60"] {
        let mut h = object();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_str(no_transform).unwrap(),
        );
        assert_eq!(
            decide_with(&gzip, StatusCode::OK, &h),
            Err(Skip::NoTransform),
            "{no_transform}"
        );
    }
    for fine in ["max-age=60", "public, no-transformed", "no-cache"] {
        let mut h = object();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_str(fine).unwrap());
        assert_eq!(
            decide_with(&gzip, StatusCode::OK, &h),
            Ok(Encoding::Gzip),
            "{fine}"
        );
    }
    let mut png = object();
    png.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    assert_eq!(
        decide_with(&gzip, StatusCode::OK, &png),
        Err(Skip::ContentType)
    );
    let mut untyped = object();
    untyped.remove(header::CONTENT_TYPE);
    assert_eq!(
        decide_with(&gzip, StatusCode::OK, &untyped),
        Err(Skip::ContentType)
    );
}

#[test]
fn viewer_side_conditions() {
    let gzip = accept(&["gzip"]);
    for old in [Version::HTTP_10, Version::HTTP_09] {
        let r = decide(old, &Method::GET, &gzip, StatusCode::OK, &object());
        assert_eq!(r, Err(Skip::Http10), "{old:?}");
    }
    for new in [Version::HTTP_2, Version::HTTP_3] {
        let r = decide(new, &Method::GET, &gzip, StatusCode::OK, &object());
        assert_eq!(r, Ok(Encoding::Gzip), "{new:?}");
    }
    assert_eq!(
        decide_with(&HeaderMap::new(), StatusCode::OK, &object()),
        Err(Skip::NotAccepted)
    );
    assert_eq!(
        decide_with(&accept(&["identity"]), StatusCode::OK, &object()),
        Err(Skip::NotAccepted)
    );
    let mut range = accept(&["gzip"]);
    range.insert(header::RANGE, HeaderValue::from_static("bytes=0-99"));
    assert_eq!(
        decide_with(&range, StatusCode::OK, &object()),
        Err(Skip::Range)
    );
}

#[test]
fn the_object_is_judged_before_the_viewer() {
    // An image asked for without Accept-Encoding: not compressible in itself,
    // so no Vary is owed.
    let mut png = object();
    png.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    let skip = decide_with(&HeaderMap::new(), StatusCode::OK, &png).unwrap_err();
    assert_eq!(skip, Skip::ContentType);
    assert!(!skip.varies());
    // A 206 for a range: the status decides, not the Range header.
    let mut range = accept(&["gzip"]);
    range.insert(header::RANGE, HeaderValue::from_static("bytes=0-99"));
    let skip = decide_with(&range, StatusCode::PARTIAL_CONTENT, &object()).unwrap_err();
    assert_eq!(skip, Skip::Status);
    // Compressible HTML over HTTP/1.0 without Accept-Encoding: the viewer.
    let skip = decide(
        Version::HTTP_10,
        &Method::GET,
        &HeaderMap::new(),
        StatusCode::OK,
        &object(),
    )
    .unwrap_err();
    assert_eq!(skip, Skip::Http10);
    assert!(skip.varies());
}

#[test]
fn only_viewer_reasons_vary() {
    let all = [
        Skip::Method,
        Skip::Status,
        Skip::AlreadyEncoded,
        Skip::NoTransform,
        Skip::ContentType,
        Skip::NoContentLength,
        Skip::TooSmall,
        Skip::TooLarge,
        Skip::Http10,
        Skip::NotAccepted,
        Skip::Range,
    ];
    let varying: Vec<_> = all.iter().filter(|s| s.varies()).collect();
    assert_eq!(varying, [&Skip::Http10, &Skip::NotAccepted, &Skip::Range]);
    for skip in all {
        assert!(!skip.to_string().is_empty());
    }
}

fn etag_after(etag: &[u8]) -> Option<String> {
    let mut h = object();
    h.insert(header::ETAG, HeaderValue::from_bytes(etag).unwrap());
    response_headers(Encoding::Gzip, &mut h);
    h.get(header::ETAG).map(|v| v.to_str().unwrap().to_owned())
}

#[test]
fn etag_conversion() {
    assert_eq!(etag_after(b"\"abc\"").as_deref(), Some("W/\"abc\""));
    assert_eq!(etag_after(b"\"\"").as_deref(), Some("W/\"\""));
    assert_eq!(etag_after(b"W/\"abc\"").as_deref(), Some("W/\"abc\""));
    for invalid in [
        &b"abc"[..],
        b"\"abc",
        b"\"",
        b"w/\"abc\"",
        b"'abc'",
        b"\xe9\"\"",
    ] {
        assert_eq!(
            etag_after(invalid),
            None,
            "{:?}",
            String::from_utf8_lossy(invalid)
        );
    }
    let mut untagged = object();
    untagged.remove(header::ETAG);
    response_headers(Encoding::Brotli, &mut untagged);
    assert!(!untagged.contains_key(header::ETAG));
}

#[test]
fn compressed_response_headers() {
    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        let mut h = object();
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=60"),
        );
        h.insert(
            header::LAST_MODIFIED,
            HeaderValue::from_static("Tue, 01 Jan 2030 00:00:00 GMT"),
        );
        response_headers(encoding, &mut h);
        assert_eq!(h[header::CONTENT_ENCODING], encoding.token());
        assert_eq!(h[header::VARY], "Accept-Encoding");
        assert!(!h.contains_key(header::CONTENT_LENGTH));
        assert!(!h.contains_key(header::ACCEPT_RANGES));
        assert_eq!(h[header::CONTENT_TYPE], "text/html");
        assert_eq!(h[header::CACHE_CONTROL], "max-age=60");
        assert_eq!(h[header::LAST_MODIFIED], "Tue, 01 Jan 2030 00:00:00 GMT");
        assert_eq!(h[header::ETAG], "W/\"v1\"");
    }
}

#[test]
fn not_modified_carries_the_compressed_validators() {
    let mut h = HeaderMap::new();
    h.insert(header::ETAG, HeaderValue::from_static("\"v1\""));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    not_modified_headers(&mut h);
    assert_eq!(h[header::ETAG], "W/\"v1\"");
    let vary: Vec<_> = h.get_all(header::VARY).iter().collect();
    assert_eq!(vary, ["Origin", "Accept-Encoding"]);
    assert_eq!(h[header::CACHE_CONTROL], "max-age=60");
    assert!(!h.contains_key(header::CONTENT_ENCODING));
    let mut invalid = HeaderMap::new();
    invalid.insert(header::ETAG, HeaderValue::from_static("v1"));
    not_modified_headers(&mut invalid);
    assert!(!invalid.contains_key(header::ETAG));
}

fn vary_after(existing: &[&str]) -> Vec<String> {
    let mut h = HeaderMap::new();
    for v in existing {
        h.append(header::VARY, HeaderValue::from_str(v).unwrap());
    }
    add_vary(&mut h);
    h.get_all(header::VARY)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[test]
fn vary() {
    assert_eq!(vary_after(&[]), ["Accept-Encoding"]);
    assert_eq!(vary_after(&["Origin"]), ["Origin", "Accept-Encoding"]);
    assert_eq!(vary_after(&["accept-encoding"]), ["accept-encoding"]);
    assert_eq!(
        vary_after(&["Origin, Accept-Encoding"]),
        ["Origin, Accept-Encoding"]
    );
    assert_eq!(
        vary_after(&["Origin", "ACCEPT-ENCODING"]),
        ["Origin", "ACCEPT-ENCODING"]
    );
    assert_eq!(vary_after(&["*"]), ["*"]);
    assert_eq!(
        vary_after(&["Accept-Encodings"]),
        ["Accept-Encodings", "Accept-Encoding"]
    );
}

/// Deterministic web-like text: words from a small list, picked by xorshift.
fn text(len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "<div class=\"item\">",
        "</div>\n",
        "function",
        "return",
        "const ",
        "let ",
        "=>",
        "{",
        "}",
        "edge",
        "cache",
        "signed",
        "cookie",
        "policy",
        "expires",
        "viewer",
        "origin",
        "0",
        "42",
        "CloudFront",
        "compress",
        "brotli",
        "gzip",
        "; ",
        " ",
        " ",
        "\n",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len + 32);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(WORDS[(state % WORDS.len() as u64) as usize].as_bytes());
    }
    out.truncate(len);
    out
}

/// Incompressible bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Decodes with decoders that share no code with the encoders: flate2's
/// inflate (miniz_oxide) and the `brotli-decompressor` crate.
fn decode(encoding: Encoding, compressed: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        Encoding::Gzip => {
            flate2::read::GzDecoder::new(compressed)
                .read_to_end(&mut out)
                .unwrap();
        }
        Encoding::Brotli => {
            brotli::Decompressor::new(compressed, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
    }
    out
}

fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", Vec::new()),
        ("small", b"hello, edge".to_vec()),
        ("1000 bytes", text(1000)),
        ("300 KiB text", text(300 * 1024)),
        ("1 MiB text", text(1 << 20)),
        ("1 MiB noise", noise(1 << 20)),
    ]
}

#[test]
fn compress_bytes_round_trips() {
    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        for (name, input) in inputs() {
            let compressed = compress_bytes(encoding, &input).unwrap();
            assert_eq!(decode(encoding, &compressed), input, "{encoding} {name}");
            if encoding == Encoding::Gzip {
                assert_eq!(&compressed[..2], [0x1f, 0x8b], "{name}");
            }
        }
    }
    // Both shrink web-like text well (which of the two is smaller depends on
    // the text: on this synthetic one gzip wins, on real HTML Brotli does).
    let page = text(1 << 20);
    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        let n = compress_bytes(encoding, &page).unwrap().len();
        assert!(n < page.len() / 2, "{encoding}: {n} of {}", page.len());
    }
}

#[test]
fn brotli_window_fits_the_body() {
    assert_eq!(window_bits(0), 10);
    assert_eq!(window_bits(1008), 10);
    assert_eq!(window_bits(1009), 11);
    assert_eq!(window_bits(256 * 1024), 19);
    assert_eq!(window_bits(10_000_000), 22);
    assert_eq!(window_bits(usize::MAX), 22);
}

/// `bytes` as a body of `chunk`-sized pieces.
fn chunked(bytes: &[u8], chunk: usize) -> BodyStream {
    let pieces: Vec<io::Result<Bytes>> = bytes
        .chunks(chunk.max(1))
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(stream::iter(pieces))
}

async fn collect(mut stream: BodyStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

#[tokio::test]
async fn compress_stream_round_trips() {
    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        for (name, input) in inputs() {
            for chunk in [7, 64 * 1024] {
                let length = input.len() as u64;
                let compressed = collect(compress_stream(encoding, chunked(&input, chunk), length))
                    .await
                    .unwrap();
                assert_eq!(
                    decode(encoding, &compressed),
                    input,
                    "{encoding} {name} in {chunk}s"
                );
            }
        }
    }
}

/// A body fed through a channel of one item: the test decides when each piece
/// arrives and when the body ends.
fn channel_body() -> (tokio::sync::mpsc::Sender<io::Result<Bytes>>, BodyStream) {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let body = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (tx, Box::pin(body))
}

#[tokio::test]
async fn compress_stream_does_not_wait_for_the_end() {
    const PIECE: usize = 32 * 1024;
    const PIECES: usize = 64; // 2 MiB
    let input = text(PIECE * PIECES);
    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        let (tx, body) = channel_body();
        let mut out = compress_stream(encoding, body, input.len() as u64);
        let mut compressed = Vec::new();
        for piece in input.chunks(PIECE) {
            tx.send(Ok(Bytes::copy_from_slice(piece))).await.unwrap();
            // Take whatever the encoder has produced so far; it waits for input
            // (the timeout) once it has consumed the piece.
            while let Ok(Some(chunk)) =
                tokio::time::timeout(Duration::from_millis(20), out.next()).await
            {
                compressed.extend_from_slice(&chunk.unwrap());
            }
        }
        // The body has not ended yet (the sender is alive): most of the
        // compressed bytes must already be out, not just a header.
        let before_end = compressed.len();
        drop(tx);
        compressed.extend(collect(out).await.unwrap());
        eprintln!(
            "TMP {encoding}: {before_end} of {} before the end",
            compressed.len()
        );
        assert!(
            before_end >= compressed.len() / 2,
            "{encoding}: only {before_end} of {} compressed bytes came before the body ended",
            compressed.len()
        );
        assert_eq!(decode(encoding, &compressed), input, "{encoding}");
    }
}

#[tokio::test]
async fn compress_stream_passes_an_origin_error_on() {
    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        let (tx, body) = channel_body();
        let out = compress_stream(encoding, body, 1 << 20);
        let feeder = tokio::spawn(async move {
            tx.send(Ok(Bytes::from(text(100 * 1024)))).await.unwrap();
            tx.send(Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "origin reset",
            )))
            .await
            .unwrap();
        });
        let items: Vec<io::Result<Bytes>> = out.collect().await;
        feeder.await.unwrap();
        let last = items.last().expect("at least the error");
        let e = last
            .as_ref()
            .expect_err("the stream ends with the error, not a clean end");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{encoding}");
        assert!(e.to_string().contains("origin reset"), "{encoding}: {e}");
        assert_eq!(items.iter().filter(|i| i.is_err()).count(), 1, "{encoding}");
    }
}

#[tokio::test]
async fn compress_stream_refuses_a_body_of_the_wrong_length() {
    let input = text(3000);
    for encoding in [Encoding::Gzip, Encoding::Brotli] {
        let short = collect(compress_stream(encoding, chunked(&input, 1000), 5000))
            .await
            .unwrap_err();
        assert_eq!(short.kind(), io::ErrorKind::UnexpectedEof, "{encoding}");
        let cause = short
            .get_ref()
            .and_then(|c| c.downcast_ref::<LengthMismatch>());
        assert_eq!(
            cause,
            Some(&LengthMismatch::Short {
                expected: 5000,
                received: 3000
            }),
            "{encoding}"
        );
        let long = collect(compress_stream(encoding, chunked(&input, 1000), 2000))
            .await
            .unwrap_err();
        assert_eq!(long.kind(), io::ErrorKind::InvalidData, "{encoding}");
        let cause = long
            .get_ref()
            .and_then(|c| c.downcast_ref::<LengthMismatch>());
        assert_eq!(
            cause,
            Some(&LengthMismatch::Long {
                expected: 2000,
                received: 3000
            }),
            "{encoding}"
        );
    }
}

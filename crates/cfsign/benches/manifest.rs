//! Manifest rewriting: a 10,000-segment HLS media playlist and a DASH MPD with a
//! 10,000-entry SegmentList, one custom policy stamped on every URI (policy mode),
//! and the HLS playlist with every URI signed on its own (urls mode, ECDSA).
//! Throughput is reported in URIs per second (criterion's elements/s); the
//! target (issue 13) is ≥ 1,000,000 URIs/s on one core in policy mode.
//! Run with `cargo bench -p cfsign --bench manifest`.

use std::fmt::Write as _;
use std::hint::black_box;

use cfsign::manifest::{self, Signing};
use cfsign::{KeyPairId, Policy, PrivateKey, Resource, SignableUrl, Signer};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::Timestamp;

const SEGMENTS: usize = 10_000;
const MANIFEST_URL: &str = "https://d111111abcdef8.cloudfront.net/movies/42/720p/index.m3u8";
const MPD_URL: &str = "https://d111111abcdef8.cloudfront.net/movies/42/dash/stream.mpd";
/// 2026-01-01T12:00:00Z, and one day later.
const NOW: i64 = 1_767_268_800;
const EXPIRES: i64 = NOW + 86_400;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(seconds).expect("valid timestamp")
}

/// What ffmpeg writes for a VOD playlist, with 10,000 six-second segments.
fn playlist() -> String {
    let mut text = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:6\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n",
    );
    for i in 0..SEGMENTS {
        let _ = write!(text, "#EXTINF:6.006000,\nsegment_{i:05}.ts\n");
    }
    text.push_str("#EXT-X-ENDLIST\n");
    text
}

fn mpd() -> String {
    let mut text = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\" mediaPresentationDuration=\"PT16H40M\">\n <Period id=\"0\">\n  <AdaptationSet contentType=\"video\">\n   <Representation id=\"0\" mimeType=\"video/mp4\" codecs=\"avc1.4d401f\" bandwidth=\"2000000\">\n    <SegmentList timescale=\"1000\" duration=\"6000\">\n     <Initialization sourceURL=\"init-0.m4s\" />\n",
    );
    for i in 1..SEGMENTS {
        let _ = writeln!(text, "     <SegmentURL media=\"chunk-0-{i:05}.m4s\" />");
    }
    text.push_str(
        "    </SegmentList>\n   </Representation>\n  </AdaptationSet>\n </Period>\n</MPD>\n",
    );
    text
}

fn signer() -> Signer {
    let path = format!(
        "{}/tests/data/keys/ec-p256.pkcs8.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let pem = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let key = PrivateKey::from_pem(&pem).expect("test key parses");
    Signer::new(KeyPairId::new("K2JCJMDEHXQW5F").expect("key pair id"), key)
}

fn bench(c: &mut Criterion) {
    let signer = signer();
    let url = SignableUrl::parse(MANIFEST_URL).expect("manifest URL");
    let covers =
        Resource::parse("https://d111111abcdef8.cloudfront.net/movies/42/*").expect("resource");
    let policy = Policy::builder(covers.clone())
        .expires_at(at(EXPIRES))
        .build_at(at(NOW))
        .expect("policy");
    let signed = signer.sign_policy(&policy).expect("signed");
    let stamp = Signing::stamp(&signed).expect("custom policy");
    let hls = playlist();
    let dash = mpd();
    let mpd_url = SignableUrl::parse(MPD_URL).expect("MPD URL");

    let mut group = c.benchmark_group("manifest");
    group.throughput(Throughput::Elements(SEGMENTS as u64));
    group.bench_function("hls 10k segments, policy", |b| {
        b.iter(|| manifest::rewrite(black_box(hls.as_bytes()), &url, &stamp).expect("rewrite"));
    });
    group.bench_function("dash 10k SegmentURL, policy", |b| {
        b.iter(|| {
            manifest::rewrite(black_box(dash.as_bytes()), &mpd_url, &stamp).expect("rewrite")
        });
    });
    group.sample_size(10);
    let urls = Signing::Urls {
        signer: &signer,
        expires: Timestamp::now() + jiff::SignedDuration::from_hours(24),
        covers: &covers,
    };
    group.bench_function("hls 10k segments, urls (ECDSA, one core)", |b| {
        b.iter(|| manifest::rewrite(black_box(hls.as_bytes()), &url, &urls).expect("rewrite"));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

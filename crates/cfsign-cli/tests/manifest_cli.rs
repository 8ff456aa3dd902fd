//! `cfsign manifest`, run for real on the streams ffmpeg makes
//! (`cfsign_testkit::media`) and on hand-written manifests (issue 13). The
//! signed manifests are checked independently of cfsign's own parser: read with
//! Python's `m3u8` (HLS) or `xml.etree.ElementTree` (DASH), every signature
//! checked with Python's `cryptography`, a sample with `cfsign verify`.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cfsign_testkit::data::key_path;
use cfsign_testkit::media::Streams;
use cfsign_testkit::{cli, python};
use serde_json::{Value, json};

/// The RSA key's pair ID (`rsa2048.pkcs1.pem`).
const RSA_ID: &str = "K2JCJMDEHXQW5F";
/// The ECDSA P-256 key's pair ID (`ec-p256.pkcs8.pem`).
const EC_ID: &str = "K3ECP256TESTKEY";

/// Where the streams are served from in these tests.
const CDN: &str = "https://cdn.example.test/streams";

/// The binary, without the test's own `CFSIGN_*` variables.
fn cfsign() -> Command {
    cli::command(env!("CARGO_BIN_EXE_cfsign"))
}

/// Every stream, made once per test process (about 1 MB), in a folder under
/// Cargo's target temporary folder: a `static` is never dropped, so the folder
/// outlives the process. The folders of earlier runs, an hour old, are removed
/// first.
fn streams() -> &'static Streams {
    static STREAMS: OnceLock<Streams> = OnceLock::new();
    STREAMS.get_or_init(|| {
        python::require(&["m3u8", "cryptography"]);
        let parent = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for entry in std::fs::read_dir(parent).unwrap().flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(3600));
            if old
                && entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with("manifest_cli-")
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("manifest_cli-")
            .tempdir_in(parent)
            .unwrap();
        Streams::generate(&dir.keep())
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Rsa,
    Ec,
}

impl Key {
    fn id(self) -> &'static str {
        match self {
            Self::Rsa => RSA_ID,
            Self::Ec => EC_ID,
        }
    }

    fn private(self) -> String {
        key_path(match self {
            Self::Rsa => "rsa2048.pkcs1.pem",
            Self::Ec => "ec-p256.pkcs8.pem",
        })
    }
}

/// One `cfsign manifest` run over a stream's manifest.
#[derive(Debug, Clone, Copy)]
struct Run {
    name: &'static str,
    mode: &'static str,
    key: Key,
    sha256: bool,
    /// `Some(epoch)`: `--expires epoch` (for a deterministic RSA output); `None`: `--expires-in 1h`.
    expires: Option<u64>,
    json: bool,
}

impl Run {
    fn args(&self, url: &str, input: &Path) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "manifest".into(),
            url.into(),
            "--input".into(),
            input.to_str().unwrap().into(),
            "--mode".into(),
            self.mode.into(),
            "--key-pair-id".into(),
            self.key.id().into(),
            "--private-key".into(),
            self.key.private(),
        ];
        match self.expires {
            Some(epoch) => args.extend(["--expires".into(), epoch.to_string()]),
            None => args.extend(["--expires-in".into(), "1h".into()]),
        }
        if self.sha256 {
            args.extend(["--hash".into(), "sha256".into()]);
        }
        if self.json {
            args.push("--json".into());
        }
        args
    }
}

/// Reads the original and the signed manifests of one stream with an
/// independent parser and checks every signature. Input on stdin (JSON):
/// `format`, `manifest_url`, `input`, `now`, `public_keys` (ID → SPKI PEM
/// path), `runs` (`name`, `mode`, `key_pair_id`, `hash`, `output`). Prints
/// `{"uris": N, "runs": [{"name", "signed_urls": [absolute URLs]}]}`; fails
/// with an assertion naming the run and URI.
const ORACLE: &str = r##"
import base64, json, re, sys
import xml.etree.ElementTree as ET
from urllib.parse import urljoin

import m3u8
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

req = json.load(sys.stdin)
B64 = "[A-Za-z0-9~_-]+"
SEP = "(?:&amp;|&)"
# What cfsign inserts, as written in the manifest (XML escapes & as &amp;).
INSERTED = re.compile(
    r"(?:\?|" + SEP + r")(?:Policy=" + B64 + r"|Expires=[0-9]+)" + SEP + r"Signature=" + B64
    + SEP + r"Key-Pair-Id=[A-Z0-9]+(?:" + SEP + r"Hash-Algorithm=SHA256)?")
# One URI as the parser reports it (XML unescaped).
SIGNED = re.compile(
    r"^(?P<uri>[^#]*?)(?P<sep>[?&])(?:Policy=(?P<policy>" + B64 + r")|Expires=(?P<expires>[0-9]+))"
    r"&Signature=(?P<sig>" + B64 + r")&Key-Pair-Id=(?P<kid>[A-Z0-9]+)"
    r"(?:&Hash-Algorithm=(?P<hash>SHA256))?(?P<fragment>#.*)?$")

DASH_ATTRIBUTES = {
    "SegmentTemplate": ("media", "initialization", "index", "bitstreamSwitching"),
    "SegmentURL": ("media", "index"),
    "Initialization": ("sourceURL",),
    "RepresentationIndex": ("sourceURL",),
    "BitstreamSwitching": ("sourceURL",),
}

def hls_uris(text):
    pl = m3u8.loads(text)
    if pl.is_variant:
        uris = [p.uri for p in pl.playlists]
        uris += [m.uri for m in pl.media if m.uri]
        uris += [p.uri for p in pl.iframe_playlists]
    else:
        uris = [k.uri for k in pl.keys if k is not None and k.uri]
        uris += [m.uri for m in pl.segment_map if m.uri]
        uris += [s.uri for s in pl.segments]
    uris += [k.uri for k in pl.session_keys if k is not None and k.uri]
    return uris

def dash_uris(text):
    root = ET.fromstring(text.encode())
    assert root.tag.endswith("}MPD") or root.tag == "MPD", root.tag
    uris = []
    for element in root.iter():
        name = element.tag.rsplit("}", 1)[-1]
        for attribute in DASH_ATTRIBUTES.get(name, ()):
            if attribute in element.attrib:
                uris.append(element.attrib[attribute])
        if name in ("BaseURL", "Location", "PatchLocation") and element.text:
            uris.append(element.text.strip())
    return uris

parse = hls_uris if req["format"] == "hls" else dash_uris
keys = {kid: serialization.load_pem_public_key(open(path, "rb").read())
        for kid, path in req["public_keys"].items()}

def cf_b64decode(value):
    return base64.b64decode(value.replace("-", "+").replace("_", "=").replace("~", "/"), validate=True)

def check_signature(kid, hash_name, message, signature):
    key = keys[kid]
    algorithm = hashes.SHA256() if hash_name == "SHA256" else hashes.SHA1()
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, message, padding.PKCS1v15(), algorithm)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey), key
        key.verify(signature, message, ec.ECDSA(algorithm))

def glob(pattern, url):
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), url, re.S) is not None

def expand_template(url):
    # $RepresentationID$, $Number$, $Number%05d$, $Time$, $Bandwidth$ as a player fills them.
    return re.sub(r"\$[A-Za-z]+(?:%0[0-9]+d)?\$", "1", url)

original = req["input"]
original_uris = parse(original)
assert original_uris, "the independent parser found no URI in the input"
assert not any(INSERTED.search(u) for u in original_uris), "the input is already signed"
now = req["now"]
checked = {}
result = {"uris": len(original_uris), "runs": []}
for run in req["runs"]:
    where = run["name"]
    out = run["output"]
    # Removing what was inserted gives the input back, byte for byte.
    stripped, count = INSERTED.subn("", out)
    assert stripped == original, f"{where}: the output less the signing parameters is not the input"
    assert count == len(original_uris), f"{where}: {count} insertions for {len(original_uris)} URIs"
    uris = parse(out)
    assert len(uris) == len(original_uris), f"{where}: {len(uris)} URIs, the input has {len(original_uris)}"
    signed_urls = []
    for signed, before in zip(uris, original_uris):
        m = SIGNED.match(signed)
        assert m, f"{where}: {signed!r} does not end in the signing parameters"
        uri = m["uri"] + (m["fragment"] or "")
        assert uri == before, f"{where}: {signed!r} less its parameters is not {before!r}"
        assert (m["sep"] == "&") == ("?" in m["uri"]), f"{where}: {signed!r}: wrong separator"
        assert m["kid"] == run["key_pair_id"], f"{where}: {signed!r}: Key-Pair-Id"
        assert (m["hash"] == "SHA256") == (run["hash"] == "sha256"), f"{where}: {signed!r}: Hash-Algorithm"
        url = urljoin(req["manifest_url"], m["uri"])
        if run["mode"] == "policy":
            assert m["policy"], f"{where}: {signed!r} has no Policy"
            policy_bytes = cf_b64decode(m["policy"])
        else:
            assert m["expires"], f"{where}: {signed!r} has no Expires"
            policy_bytes = ('{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%s}}}]}'
                            % (url, m["expires"])).encode()
        signature = cf_b64decode(m["sig"])
        cache_key = (m["kid"], m["hash"], policy_bytes, signature)
        if cache_key not in checked:
            try:
                check_signature(m["kid"], m["hash"], policy_bytes, signature)
            except InvalidSignature:
                raise AssertionError(f"{where}: the signature of {signed!r} does not verify")
            checked[cache_key] = json.loads(policy_bytes)
        policy = checked[cache_key]
        statements = policy["Statement"]
        assert len(statements) == 1, f"{where}: {policy}"
        resource = statements[0]["Resource"]
        assert glob(resource, url), f"{where}: the resource {resource} does not cover {url}"
        condition = statements[0]["Condition"]
        assert set(condition) == {"DateLessThan"}, f"{where}: {condition}"
        expires = condition["DateLessThan"]["AWS:EpochTime"]
        assert expires > now, f"{where}: DateLessThan {expires} is not after {now}"
        signed_urls.append(expand_template(urljoin(req["manifest_url"], signed.split("#")[0])))
    result["runs"].append({"name": where, "signed_urls": signed_urls})
print(json.dumps(result))
"##;

/// Signs one manifest of the generated streams in every mode, checks the
/// outputs with the oracle, a sample of URLs with `cfsign verify`, and the
/// `--json` report against the plain output.
fn sign_and_check(relative: &str) {
    let streams = streams();
    let input_path = streams.path(Path::new(relative));
    let input = std::fs::read_to_string(&input_path).unwrap();
    let url = format!("{CDN}/{relative}");
    let dash = relative.ends_with(".mpd");
    let expires = now() + 3600;
    let mut runs = vec![
        Run {
            name: "policy rsa sha1",
            mode: "policy",
            key: Key::Rsa,
            sha256: false,
            expires: Some(expires),
            json: false,
        },
        Run {
            name: "policy ecdsa sha1",
            mode: "policy",
            key: Key::Ec,
            sha256: false,
            expires: None,
            json: false,
        },
        Run {
            name: "policy ecdsa sha256",
            mode: "policy",
            key: Key::Ec,
            sha256: true,
            expires: None,
            json: false,
        },
    ];
    if !dash {
        runs.push(Run {
            name: "urls rsa sha256",
            mode: "urls",
            key: Key::Rsa,
            sha256: true,
            expires: None,
            json: false,
        });
        runs.push(Run {
            name: "urls ecdsa sha1",
            mode: "urls",
            key: Key::Ec,
            sha256: false,
            expires: None,
            json: false,
        });
    }
    let mut outputs = Vec::new();
    for run in &runs {
        let (code, out, err) = cli::run(cfsign().args(run.args(&url, &input_path)));
        assert_eq!(code, 0, "{relative}, {}: {err}", run.name);
        assert!(
            err.contains(if dash {
                "DASH: signed "
            } else {
                "HLS: signed "
            }),
            "{relative}, {}: {err}",
            run.name
        );
        assert!(
            !err.contains("left alone"),
            "{relative}, {}: {err}",
            run.name
        );
        outputs.push(out);
    }

    // The oracle: one Python process for every run of this manifest.
    let request = json!({
        "format": if dash { "dash" } else { "hls" },
        "manifest_url": url,
        "input": input,
        "now": now(),
        "public_keys": {
            RSA_ID: key_path("rsa2048.pub.pem"),
            EC_ID: key_path("ec-p256.pub.pem"),
        },
        "runs": runs.iter().zip(&outputs).map(|(run, output)| json!({
            "name": run.name,
            "mode": run.mode,
            "key_pair_id": run.key.id(),
            "hash": if run.sha256 { "sha256" } else { "sha1" },
            "output": output,
        })).collect::<Vec<_>>(),
    });
    let (code, out, err) =
        cli::run_with_stdin(python::command().args(["-c", ORACLE]), &request.to_string());
    assert_eq!(code, 0, "{relative}: the Python oracle failed: {err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let uris = report["uris"].as_u64().unwrap();
    assert!(uris >= 2, "{relative}: {uris} URIs");

    // A sample through cfsign's own verifier: the first URL of the first run,
    // the middle one of the second, the last one of the last.
    let signed_urls = |i: usize| {
        report["runs"][i]["signed_urls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let last_run = runs.len() - 1;
    let sample = [
        signed_urls(0).first().cloned().unwrap(),
        {
            let urls = signed_urls(1);
            urls[urls.len() / 2].clone()
        },
        signed_urls(last_run).last().cloned().unwrap(),
    ];
    let rsa_public = format!("{RSA_ID}={}", key_path("rsa2048.pub.pem"));
    let ec_public = format!("{EC_ID}={}", key_path("ec-p256.pub.pem"));
    for signed_url in &sample {
        let (code, out, err) = cli::run(cfsign().args([
            "verify",
            signed_url,
            "--public-key",
            &rsa_public,
            "--public-key",
            &ec_public,
        ]));
        assert_eq!(
            code, 0,
            "{relative}: cfsign verify {signed_url}: {out}{err}"
        );
        assert_eq!(out.lines().next(), Some("allowed"), "{signed_url}: {out}");
    }

    // --json: the same manifest as the plain run (RSA signatures are
    // deterministic, the expiry is fixed) and the count the oracle found.
    let json_run = Run {
        json: true,
        ..runs[0]
    };
    let (code, out, err) = cli::run(cfsign().args(json_run.args(&url, &input_path)));
    assert_eq!(code, 0, "{relative}, --json: {err}");
    let value: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        value["manifest"].as_str(),
        Some(outputs[0].as_str()),
        "{relative}: --json's manifest is not the plain output"
    );
    assert_eq!(value["signed"].as_u64(), Some(uris), "{relative}: {value}");
    assert_eq!(value["left_alone"], json!([]), "{relative}: {value}");
    assert_eq!(value["format"], if dash { "DASH" } else { "HLS" });
    assert_eq!(value["mode"], "policy");
    assert_eq!(value["expires"].as_u64(), Some(expires));
    let folder = &url[..=url.rfind('/').unwrap()];
    assert_eq!(
        value["resource"].as_str(),
        Some(format!("{folder}*").as_str())
    );
}

/// The manifest's path under the streams' root, as a URL path.
fn relative(path: &Path) -> String {
    path.to_str().unwrap().to_owned()
}

#[test]
fn hls_ts_signed_and_verified() {
    sign_and_check(&relative(&streams().hls_ts));
}

#[test]
fn hls_fmp4_signed_and_verified() {
    let playlist = relative(&streams().hls_fmp4);
    assert!(
        std::fs::read_to_string(streams().path(Path::new(&playlist)))
            .unwrap()
            .contains("#EXT-X-MAP:URI=")
    );
    sign_and_check(&playlist);
}

#[test]
fn hls_aes128_signed_and_verified() {
    let playlist = relative(&streams().hls_aes128);
    assert!(
        std::fs::read_to_string(streams().path(Path::new(&playlist)))
            .unwrap()
            .contains("#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\"")
    );
    sign_and_check(&playlist);
}

#[test]
fn hls_master_signed_and_verified() {
    let master = relative(&streams().hls_master);
    let text = std::fs::read_to_string(streams().path(Path::new(&master))).unwrap();
    assert!(text.contains("URI=\"audio/index.m3u8\""), "{text}");
    sign_and_check(&master);
}

#[test]
fn hls_master_children_signed_and_verified() {
    let folder = streams().hls_master.parent().unwrap().to_path_buf();
    for child in ["video-160", "video-80", "audio"] {
        let playlist: PathBuf = folder.join(child).join("index.m3u8");
        sign_and_check(&relative(&playlist));
    }
}

#[test]
fn dash_template_signed_and_verified() {
    sign_and_check(&relative(&streams().dash_template));
}

#[test]
fn dash_list_signed_and_verified() {
    sign_and_check(&relative(&streams().dash_list));
}

/// A `cfsign manifest` run over `input` (written to a file) for
/// `https://cdn.example.test/streams/live/NAME`, policy mode with the RSA key.
fn sign_file(name: &str, input: &[u8], extra: &[&str]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, input).unwrap();
    let url = format!("{CDN}/live/{name}");
    let key = Key::Rsa.private();
    cli::run(
        cfsign()
            .args(["manifest", &url, "--input", path.to_str().unwrap()])
            .args(["--key-pair-id", RSA_ID, "--private-key", &key])
            .args(["--expires-in", "1h"])
            .args(extra),
    )
}

/// The parameters stamped on a URI of `output` (what follows `uri?`).
fn stamped(output: &str, uri: &str) -> String {
    let start = output
        .find(&format!("{uri}?"))
        .unwrap_or_else(|| panic!("{uri} not signed in {output}"))
        + uri.len()
        + 1;
    let end = output[start..]
        .find(['\n', '"', '\'', '<'])
        .map_or(output.len(), |i| start + i);
    output[start..end].to_owned()
}

#[test]
fn uris_left_alone_keep_their_lines_and_are_listed() {
    let input = "#EXTM3U\n\
        #EXT-X-VERSION:5\n\
        #EXT-X-TARGETDURATION:1\n\
        #EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://key-42\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"\n\
        #EXTINF:1.0,\n\
        seg0.ts\n\
        #EXTINF:1.0,\n\
        https://ads.example.test/ad0.ts\n\
        #EXTINF:1.0,\n\
        ../other/seg1.ts\n\
        #EXTINF:1.0,\n\
        seg2.ts?Expires=1796000000&Signature=abc&Key-Pair-Id=K2JCJMDEHXQW5F\n\
        #EXTINF:1.0,\n\
        seg3.ts\n\
        #EXT-X-ENDLIST\n";
    let (code, out, err) = sign_file("index.m3u8", input.as_bytes(), &[]);
    assert_eq!(code, 0, "{err}");
    let parameters = stamped(&out, "seg0.ts");
    assert!(
        parameters.starts_with("Policy=")
            && parameters.ends_with(&format!("&Key-Pair-Id={RSA_ID}")),
        "{parameters}"
    );
    // Every line but the two covered segments' is the input's.
    let want = input
        .replace("\nseg0.ts\n", &format!("\nseg0.ts?{parameters}\n"))
        .replace("\nseg3.ts\n", &format!("\nseg3.ts?{parameters}\n"));
    assert_eq!(out, want);
    let expected = [
        "left alone: 4",
        "  line 4 EXT-X-KEY URI: skd://key-42 (its scheme `skd` is not http or https)",
        "  line 8 URI line: https://ads.example.test/ad0.ts (https://ads.example.test/ad0.ts is outside the signed resource)",
        "  line 10 URI line: ../other/seg1.ts (https://cdn.example.test/streams/other/seg1.ts is outside the signed resource)",
        "  line 12 URI line: seg2.ts (it already carries CloudFront signing parameters)",
    ];
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("HLS: signed 2 URIs under https://cdn.example.test/streams/live/* (URI line: 2)"),
        "{err}"
    );
    assert_eq!(&lines[1..], &expected, "{err}");

    // The same in the JSON report.
    let (code, out, err) = sign_file("index.m3u8", input.as_bytes(), &["--json"]);
    assert_eq!(code, 0, "{err}");
    let value: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(value["signed"], 2);
    let left: Vec<(u64, &str, &str)> = value["left_alone"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["uri"].as_str().unwrap(),
                l["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        left.iter()
            .map(|(line, uri, _)| (*line, *uri))
            .collect::<Vec<_>>(),
        [
            (4, "skd://key-42"),
            (8, "https://ads.example.test/ad0.ts"),
            (10, "../other/seg1.ts"),
            (12, "seg2.ts"),
        ]
    );
    assert!(left[0].2.contains("scheme `skd`"), "{left:?}");
    assert!(
        left[1].2.contains("outside the signed resource"),
        "{left:?}"
    );
    assert!(
        left[2].2.contains("outside the signed resource"),
        "{left:?}"
    );
    assert!(left[3].2.contains("already carries"), "{left:?}");
}

#[test]
fn dash_uris_left_alone_keep_their_bytes_and_are_listed() {
    let input = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
        <MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"static\">\n\
        \t<Period>\n\
        \t\t<AdaptationSet>\n\
        \t\t\t<Representation id=\"0\" bandwidth=\"1000\">\n\
        \t\t\t\t<SegmentList duration=\"1\">\n\
        \t\t\t\t\t<Initialization sourceURL=\"init-0.m4s?v=1&amp;w=2\"/>\n\
        \t\t\t\t\t<SegmentURL media=\"https://ads.example.test/ad.m4s\"/>\n\
        \t\t\t\t\t<SegmentURL media=\"../other/chunk-1.m4s\"/>\n\
        \t\t\t\t\t<SegmentURL media=\"chunk-2.m4s?Expires=1796000000&amp;Signature=abc&amp;Key-Pair-Id=K2JCJMDEHXQW5F\"/>\n\
        \t\t\t\t\t<SegmentURL media='chunk-3.m4s'/>\n\
        \t\t\t\t</SegmentList>\n\
        \t\t\t</Representation>\n\
        \t\t</AdaptationSet>\n\
        \t</Period>\n\
        </MPD>\n";
    let (code, out, err) = sign_file("manifest.mpd", input.as_bytes(), &[]);
    assert_eq!(code, 0, "{err}");
    let parameters = stamped(&out, "chunk-3.m4s");
    assert!(parameters.starts_with("Policy="), "{parameters}");
    assert!(parameters.contains("&amp;Signature="), "{parameters}");
    let want = input
        .replace(
            "init-0.m4s?v=1&amp;w=2\"",
            &format!("init-0.m4s?v=1&amp;w=2&amp;{}\"", &parameters),
        )
        .replace("'chunk-3.m4s'", &format!("'chunk-3.m4s?{parameters}'"));
    assert_eq!(out, want);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        &lines[1..],
        [
            "left alone: 3",
            "  line 8 SegmentURL@media: https://ads.example.test/ad.m4s (https://ads.example.test/ad.m4s is outside the signed resource)",
            "  line 9 SegmentURL@media: ../other/chunk-1.m4s (https://cdn.example.test/streams/other/chunk-1.m4s is outside the signed resource)",
            "  line 10 SegmentURL@media: chunk-2.m4s (it already carries CloudFront signing parameters)",
        ],
        "{err}"
    );
}

/// Asserts a refused manifest: exit 2, nothing on stdout, and every `wanted`
/// piece in the error.
fn assert_refused((code, out, err): (i32, String, String), wanted: &[&str]) {
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "", "{err}");
    assert!(err.starts_with("error: "), "{err}");
    for piece in wanted {
        assert!(err.contains(piece), "{piece:?} not in {err}");
    }
}

#[test]
fn malformed_manifests_are_refused_with_the_line() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10";
    let mut hls_then_png = b"#EXTM3U\n".to_vec();
    hls_then_png.extend_from_slice(png);
    let cases: &[(&str, &[u8], &[&str])] = &[
        (
            "index.m3u8",
            b"#EXTINF:1.0,\nseg0.ts\n",
            &["line 1: the manifest is neither an HLS playlist"],
        ),
        (
            "index.m3u8",
            b"#EXTM3U8\n#EXTINF:1.0,\nseg0.ts\n",
            &["line 1: an HLS playlist must start with the line `#EXTM3U`"],
        ),
        (
            "index.m3u8",
            b"#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-MAP:URI=\"init.mp4\n#EXTINF:1.0,\nseg0.m4s\n",
            &["line 3: the quoted value of attribute URI in EXT-X-MAP is not closed"],
        ),
        ("index.m3u8", png, &["line 1: the manifest is neither"]),
        (
            "index.m3u8",
            &hls_then_png,
            &["line 2: the manifest is not UTF-8 text (invalid byte at column 1)"],
        ),
        (
            "index.m3u8",
            b"#EXTM3U\n#EXTINF:1.0,\nseg\0.ts\n",
            &["line 3: the byte 0x00 at column 4 is binary data"],
        ),
        (
            "manifest.mpd",
            b"<?xml version=\"1.0\"?>\n\
              <!DOCTYPE MPD [\n\
              <!ENTITY lol \"lol\">\n\
              <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n\
              <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n\
              <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n\
              <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n\
              <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n\
              <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n\
              <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n\
              <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n\
              <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n\
              ]>\n\
              <MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"><BaseURL>&lol9;</BaseURL></MPD>\n",
            &["line 2: the MPD has a <!DOCTYPE>"],
        ),
        (
            "manifest.mpd",
            b"<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\">\n<BaseURL>&lol9;/</BaseURL>\n</MPD>\n",
            &["line 2: the MPD uses the entity `&lol9;`"],
        ),
    ];
    for (name, input, wanted) in cases {
        assert_refused(sign_file(name, input, &[]), wanted);
    }

    // A line over 64 KiB.
    let long = format!("#EXTM3U\n#EXTINF:1.0,\n{}.ts\n", "a".repeat(70_000));
    assert_refused(
        sign_file("index.m3u8", long.as_bytes(), &[]),
        &["line 3: 70003 bytes long, over the 65536-byte line limit"],
    );
}

#[test]
fn an_endless_input_is_refused_at_the_size_bound() {
    let key = Key::Rsa.private();
    let started = Instant::now();
    let outcome = cli::run(cfsign().args([
        "manifest",
        &format!("{CDN}/live/index.m3u8"),
        "--input",
        "/dev/zero",
        "--key-pair-id",
        RSA_ID,
        "--private-key",
        &key,
        "--expires-in",
        "1h",
    ]));
    let took = started.elapsed();
    assert_refused(outcome, &["/dev/zero", "64 MiB (67108864 bytes)"]);
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn urls_mode_refuses_a_dash_template() {
    let mpd = relative(&streams().dash_template);
    let (code, out, err) = cli::run(cfsign().args([
        "manifest",
        &format!("{CDN}/{mpd}"),
        "--input",
        streams().path(Path::new(&mpd)).to_str().unwrap(),
        "--mode",
        "urls",
        "--key-pair-id",
        RSA_ID,
        "--private-key",
        &Key::Rsa.private(),
        "--expires-in",
        "1h",
    ]));
    assert_refused(
        (code, out, err),
        &[
            "SegmentTemplate@",
            "is the template",
            "exist only in the player and cannot be signed one by one",
        ],
    );
}

#[test]
fn an_exact_resource_is_refused_in_policy_mode() {
    let url = format!("{CDN}/live/index.m3u8");
    assert_refused(
        sign_file(
            "index.m3u8",
            b"#EXTM3U\n#EXTINF:1.0,\nseg0.ts\n",
            &["--resource", &url],
        ),
        &["is one exact URL", "cover nothing else"],
    );
}

#[test]
fn url_query_mode_adds_dash_url_parameters_and_signs_nothing() {
    let mpd = relative(&streams().dash_template);
    let input = streams().path(Path::new(&mpd));
    let original = std::fs::read_to_string(&input).unwrap();
    let args = |extra: &[&str]| {
        let mut args = vec![
            "manifest".to_owned(),
            format!("{CDN}/{mpd}"),
            "--input".to_owned(),
            input.to_str().unwrap().to_owned(),
            "--mode".to_owned(),
            "url-query".to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args
    };
    let (code, out, err) = cli::run(cfsign().args(args(&[])));
    assert_eq!(code, 0, "{err}");
    // The original, with one descriptor after each AdaptationSet's start tag.
    let descriptor = cfsign::manifest::URL_QUERY_DESCRIPTOR;
    assert_eq!(out.matches(descriptor).count(), 2, "{out}");
    assert_eq!(out.replace(descriptor, ""), original);
    assert!(!out.contains("Signature="), "{out}");
    let folder = &mpd[..mpd.rfind('/').unwrap() + 1];
    assert!(
        err.contains("UrlQueryInfo added to 2 AdaptationSets")
            && err.contains(&format!("--resource '{CDN}/{folder}*'")),
        "{err}"
    );
    // It signs nothing, so signing flags are a mistake; HLS has no such mechanism.
    assert_refused(
        cli::run(cfsign().args(args(&["--expires-in", "1h"]))),
        &["--mode url-query signs nothing"],
    );
    let hls = relative(&streams().hls_ts);
    assert_refused(
        cli::run(cfsign().args([
            "manifest",
            &format!("{CDN}/{hls}"),
            "--input",
            streams().path(Path::new(&hls)).to_str().unwrap(),
            "--mode",
            "url-query",
        ])),
        &["line 1: this is an HLS playlist"],
    );
}

//! The streaming fixtures of `cfsign_testkit::media`: each stream is made by ffmpeg
//! in a temporary folder, and its manifest is checked as written (its form, and
//! that every URI it names is a file beside it) and read by an independent HLS
//! parser, the Python `m3u8` package in `.venv` (`scripts/setup-python`). The
//! AES-128 stream's first segment is decrypted with the OpenSSL CLI using the key
//! and IV its playlist names.
//!
//! Needs ffmpeg (`bash scripts/setup-media`), `.venv` with `m3u8` and the
//! OpenSSL CLI; without them the tests fail with the install hint, never skip.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cfsign_testkit::media::{self, Streams};
use cfsign_testkit::python;
use serde_json::Value;

/// Every URI an HLS playlist names: the URI lines and the `URI="…"` attributes.
fn hls_uris(playlist: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for line in playlist.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with('#') {
            let mut rest = line;
            while let Some(at) = rest.find("URI=\"") {
                let value = &rest[at + 5..];
                let end = value.find('"').expect("a closing quote after URI=\"");
                uris.push(value[..end].to_owned());
                rest = &value[end..];
            }
        } else {
            uris.push(line.to_owned());
        }
    }
    uris
}

/// Checks an HLS playlist and, recursively, the playlists it names: it starts
/// with `#EXTM3U`, and every URI is relative and names a file beside it.
/// Returns the playlist's text.
fn check_hls(playlist: &Path) -> String {
    let text = std::fs::read_to_string(playlist)
        .unwrap_or_else(|e| panic!("read {}: {e}", playlist.display()));
    assert!(
        text.starts_with("#EXTM3U\n"),
        "{}: {text}",
        playlist.display()
    );
    let uris = hls_uris(&text);
    assert!(!uris.is_empty(), "{} names no URI", playlist.display());
    let folder = playlist.parent().unwrap();
    for uri in uris {
        assert!(
            !uri.contains("://") && !uri.starts_with('/'),
            "{}: {uri} is not relative",
            playlist.display()
        );
        let file = folder.join(&uri);
        assert!(
            file.is_file(),
            "{} names {uri}, and {} is no file",
            playlist.display(),
            file.display()
        );
        if uri.ends_with(".m3u8") {
            check_hls(&file);
        }
    }
    text
}

/// The playlist as the Python `m3u8` package reads it.
fn m3u8_view(playlist: &Path) -> Value {
    const SCRIPT: &str = r#"
import json, sys, m3u8
p = m3u8.load(sys.argv[1])
print(json.dumps({
    "is_variant": p.is_variant,
    "segments": [s.uri for s in p.segments],
    "durations": [s.duration for s in p.segments],
    "playlists": [v.uri for v in p.playlists],
    "audio": [v.stream_info.audio for v in p.playlists],
    "media": [{"type": m.type, "group_id": m.group_id, "uri": m.uri} for m in p.media],
    "keys": [{"method": k.method, "uri": k.uri, "iv": k.iv} for k in p.keys if k],
    "maps": [m.uri for m in p.segment_map],
    "endlist": p.is_endlist,
}))
"#;
    python::require(&["m3u8"]);
    let output = python::command()
        .args(["-c", SCRIPT])
        .arg(playlist)
        .stdin(Stdio::null())
        .output()
        .expect("run .venv/bin/python3");
    assert!(
        output.status.success(),
        "m3u8 could not read {}: {}",
        playlist.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// Checks a media playlist with `m3u8`: VOD, more than 3 segments of about a
/// second. Returns the view.
fn check_media_playlist(playlist: &Path) -> Value {
    let view = m3u8_view(playlist);
    assert_eq!(view["is_variant"], false, "{}", playlist.display());
    assert_eq!(view["endlist"], true, "{}", playlist.display());
    let segments = view["segments"].as_array().unwrap();
    assert!(
        segments.len() > 3,
        "{}: {} segments",
        playlist.display(),
        segments.len()
    );
    for duration in view["durations"].as_array().unwrap() {
        let duration = duration.as_f64().unwrap();
        assert!(duration > 0.0 && duration <= 1.1, "{duration}");
    }
    view
}

fn strs(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn hls_ts_is_a_vod_playlist_of_ts_segments() {
    let dir = tempfile::tempdir().unwrap();
    let playlist = media::hls_ts(dir.path());
    assert_eq!(playlist, dir.path().join("hls-ts/index.m3u8"));
    let text = check_hls(&playlist);
    assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD"), "{text}");
    assert!(text.contains("#EXT-X-ENDLIST"), "{text}");
    let view = check_media_playlist(&playlist);
    let segments = strs(&view["segments"]);
    assert_eq!(segments.len(), 6, "{segments:?}");
    assert!(segments.iter().all(|s| s.ends_with(".ts")), "{segments:?}");
    // MPEG-TS: a sync byte every 188 bytes.
    let first = std::fs::read(playlist.with_file_name(segments[0])).unwrap();
    assert_eq!(first.len() % 188, 0);
    assert!(first.iter().step_by(188).all(|&b| b == 0x47));
}

#[test]
fn hls_fmp4_has_its_init_segment_in_ext_x_map() {
    let dir = tempfile::tempdir().unwrap();
    let playlist = media::hls_fmp4(dir.path());
    assert_eq!(playlist, dir.path().join("hls-fmp4/index.m3u8"));
    let text = check_hls(&playlist);
    assert!(text.contains("#EXT-X-MAP:URI=\""), "{text}");
    let view = check_media_playlist(&playlist);
    assert_eq!(strs(&view["maps"]), ["init.mp4"]);
    let segments = strs(&view["segments"]);
    assert!(segments.iter().all(|s| s.ends_with(".m4s")), "{segments:?}");
    // ISO BMFF: the init segment opens with ftyp, a media segment with styp or moof.
    let init = std::fs::read(playlist.with_file_name("init.mp4")).unwrap();
    assert_eq!(&init[4..8], b"ftyp");
    let segment = std::fs::read(playlist.with_file_name(segments[0])).unwrap();
    assert!(
        [b"styp", b"moof"].contains(&&segment[4..8].try_into().unwrap()),
        "{:?}",
        &segment[..8]
    );
}

#[test]
fn hls_master_has_two_variants_and_an_audio_rendition() {
    let dir = tempfile::tempdir().unwrap();
    let master = media::hls_master(dir.path());
    assert_eq!(master, dir.path().join("hls-master/master.m3u8"));
    let text = check_hls(&master);
    assert_eq!(text.matches("#EXT-X-STREAM-INF:").count(), 2, "{text}");
    let media_line = text
        .lines()
        .find(|l| l.starts_with("#EXT-X-MEDIA:"))
        .unwrap_or_else(|| panic!("no #EXT-X-MEDIA: {text}"));
    assert!(media_line.contains("TYPE=AUDIO"), "{media_line}");
    assert!(media_line.contains("URI=\""), "{media_line}");

    let view = m3u8_view(&master);
    assert_eq!(view["is_variant"], true);
    let variants = strs(&view["playlists"]);
    assert_eq!(variants, ["video-160/index.m3u8", "video-80/index.m3u8"]);
    let renditions = view["media"].as_array().unwrap();
    assert_eq!(renditions.len(), 1, "{renditions:?}");
    assert_eq!(renditions[0]["type"], "AUDIO");
    let group = renditions[0]["group_id"].as_str().unwrap();
    assert_eq!(strs(&view["audio"]), [group, group]);
    let audio = renditions[0]["uri"].as_str().unwrap();
    assert_eq!(audio, "audio/index.m3u8");
    for playlist in variants.iter().chain([&audio]) {
        check_media_playlist(&master.with_file_name(playlist));
    }
}

#[test]
fn hls_aes128_names_its_key_and_the_key_decrypts_the_segments() {
    let dir = tempfile::tempdir().unwrap();
    let playlist = media::hls_aes128(dir.path());
    assert_eq!(playlist, dir.path().join("hls-aes128/index.m3u8"));
    let text = check_hls(&playlist);
    assert!(text.contains("#EXT-X-KEY:METHOD=AES-128,URI="), "{text}");
    assert!(
        !playlist.with_file_name("key.info").exists(),
        "the key info file is removed"
    );
    let view = check_media_playlist(&playlist);
    let keys = view["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["method"], "AES-128");
    let key = std::fs::read(playlist.with_file_name(keys[0]["uri"].as_str().unwrap())).unwrap();
    assert_eq!(key, media::AES128_KEY);
    let iv = keys[0]["iv"].as_str().unwrap();
    let iv = iv.strip_prefix("0x").or(iv.strip_prefix("0X")).unwrap();
    let want_iv: String = media::AES128_IV
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(iv.to_ascii_lowercase(), want_iv);

    // The segments are encrypted, and the key and IV the playlist names decrypt
    // them (OpenSSL CLI) into MPEG-TS.
    for segment in strs(&view["segments"]) {
        let path = playlist.with_file_name(segment);
        let encrypted = std::fs::read(&path).unwrap();
        assert_eq!(encrypted.len() % 16, 0);
        assert!(!encrypted.iter().step_by(188).all(|&b| b == 0x47));
        let hex_key: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let output = Command::new("openssl")
            .args(["aes-128-cbc", "-d", "-K", &hex_key, "-iv", iv, "-in"])
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .expect("the OpenSSL CLI (apt-get install openssl)");
        assert!(
            output.status.success(),
            "{segment}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let plain = output.stdout;
        assert_eq!(plain.len() % 188, 0, "{segment}");
        assert!(plain.iter().step_by(188).all(|&b| b == 0x47), "{segment}");
    }
}

/// The value of every `name="…"` attribute in an MPD.
fn attributes<'a>(mpd: &'a str, name: &str) -> Vec<&'a str> {
    let needle = format!(" {name}=\"");
    mpd.match_indices(&needle)
        .map(|(at, _)| {
            let value = &mpd[at + needle.len()..];
            &value[..value.find('"').unwrap()]
        })
        .collect()
}

fn read_mpd(mpd: &Path) -> String {
    let text = std::fs::read_to_string(mpd).unwrap();
    assert!(text.contains("<MPD"), "{text}");
    assert!(text.contains("type=\"static\""), "{text}");
    assert_eq!(
        attributes(&text, "contentType"),
        ["video", "audio"],
        "{text}"
    );
    text
}

#[test]
fn dash_template_names_numbered_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mpd = media::dash_template(dir.path());
    assert_eq!(mpd, dir.path().join("dash-template/manifest.mpd"));
    let text = read_mpd(&mpd);
    assert!(text.contains("<SegmentTemplate"), "{text}");
    assert!(!text.contains("<SegmentList"), "{text}");
    let representations: Vec<&str> = text
        .match_indices("<Representation id=\"")
        .map(|(at, m)| {
            let value = &text[at + m.len()..];
            &value[..value.find('"').unwrap()]
        })
        .collect();
    assert_eq!(representations, ["0", "1"], "{text}");
    let inits = attributes(&text, "initialization");
    let medias = attributes(&text, "media");
    assert_eq!(inits.len(), 2, "{text}");
    assert_eq!(medias.len(), 2, "{text}");
    // 6 s of 1 s segments, numbered from 1: each one a file beside the MPD.
    for ((id, init), media) in representations.iter().zip(inits).zip(medias) {
        assert!(media.contains("$Number"), "{media}");
        let init = init.replace("$RepresentationID$", id);
        assert!(mpd.with_file_name(&init).is_file(), "{init}");
        for number in 1..=media::DURATION_SECS {
            let segment = media
                .replace("$RepresentationID$", id)
                .replace("$Number$", &number.to_string());
            assert!(mpd.with_file_name(&segment).is_file(), "{segment}");
        }
    }
}

#[test]
fn dash_list_names_every_segment() {
    let dir = tempfile::tempdir().unwrap();
    let mpd = media::dash_list(dir.path());
    assert_eq!(mpd, dir.path().join("dash-list/manifest.mpd"));
    let text = read_mpd(&mpd);
    assert!(text.contains("<SegmentList"), "{text}");
    assert!(!text.contains("<SegmentTemplate"), "{text}");
    assert!(!text.contains('$'), "{text}");
    let inits = attributes(&text, "sourceURL");
    let medias = attributes(&text, "media");
    assert_eq!(inits.len(), 2, "{text}");
    assert!(text.matches("<SegmentURL ").count() >= 12, "{text}");
    assert_eq!(medias.len(), text.matches("<SegmentURL ").count());
    for uri in inits.iter().chain(&medias) {
        assert!(!uri.contains("://") && !uri.starts_with('/'), "{uri}");
        assert!(mpd.with_file_name(uri).is_file(), "{uri}");
    }
}

#[test]
fn streams_generate_makes_every_stream_in_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let streams = Streams::generate(dir.path());
    assert_eq!(streams.root, dir.path());
    let manifests: [(&PathBuf, &str); 6] = [
        (&streams.hls_ts, "hls-ts/index.m3u8"),
        (&streams.hls_fmp4, "hls-fmp4/index.m3u8"),
        (&streams.hls_master, "hls-master/master.m3u8"),
        (&streams.hls_aes128, "hls-aes128/index.m3u8"),
        (&streams.dash_template, "dash-template/manifest.mpd"),
        (&streams.dash_list, "dash-list/manifest.mpd"),
    ];
    for (manifest, want) in manifests {
        assert_eq!(manifest, Path::new(want));
        assert!(streams.path(manifest).is_file(), "{want}");
    }
}

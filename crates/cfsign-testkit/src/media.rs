//! Short real video streams for the signed streaming tests, made by ffmpeg in a
//! folder the caller owns (a test's own temporary folder): HLS with MPEG-TS or
//! fMP4 segments, an HLS master playlist with two video variants and an
//! alternative audio rendition, AES-128 encrypted HLS, and DASH with a
//! `SegmentTemplate` or a `SegmentList`.
//!
//! Every stream is the same 6 seconds ([`DURATION_SECS`]): ffmpeg's `testsrc`
//! picture at 160×90, 25 frames/s, H.264 (libx264, main profile, yuv420p, a
//! keyframe every second) and a 440 Hz sine in AAC (44.1 kHz), cut into
//! 1-second segments, so that Chromium plays it through MSE: each of the six
//! played to its end in Debian's headless Chromium 156 with hls.js 1.7.4 and
//! dashjs 5.2.1 (the players `scripts/setup-browser` installs), the master's
//! audio rendition and the AES-128 key fetched.
//! Each stream is written into its own subfolder of the folder given, with its
//! segments (and key or init files) beside its manifest, and every manifest
//! refers to them by relative URIs, ffmpeg's default: serve the subfolder
//! anywhere and the manifest still resolves. Each stream takes ffmpeg about a
//! quarter of a second.
//!
//! ffmpeg is Debian's (`scripts/setup-media` installs it); [`ffmpeg`] finds it
//! and fails, never skips, when it is missing.
//!
//! ```no_run
//! let dir = tempfile::tempdir().unwrap();
//! let playlist = cfsign_testkit::media::hls_ts(dir.path());
//! assert_eq!(playlist, dir.path().join("hls-ts/index.m3u8"));
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::process::Measured;

/// What to run when ffmpeg is missing.
pub const INSTALL_HINT: &str = "run `bash scripts/setup-media` (apt-get install ffmpeg)";

/// How long every stream plays, in seconds.
pub const DURATION_SECS: u32 = 6;

/// How long one ffmpeg run may take before it is killed (and the test fails).
pub const FFMPEG_TIMEOUT: Duration = Duration::from_secs(60);

/// The AES-128 key of [`hls_aes128`]'s segments, as written to its key file
/// `key.bin`. Fixed, so that a test can decrypt a segment itself (AES-128-CBC,
/// PKCS#7 padding, with [`AES128_IV`]).
pub const AES128_KEY: [u8; 16] = *b"cfsign-media-key";

/// The IV of every segment of [`hls_aes128`], given to ffmpeg explicitly and
/// written in the playlist's `EXT-X-KEY` as `IV=0x000102030405060708090a0b0c0d0e0f`.
pub const AES128_IV: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// Every stream the module makes, in one folder: the paths of their manifests,
/// relative to [`Streams::root`].
#[derive(Debug, Clone)]
pub struct Streams {
    /// The folder the streams were made in, one subfolder each.
    pub root: PathBuf,
    /// [`hls_ts`]: `hls-ts/index.m3u8`.
    pub hls_ts: PathBuf,
    /// [`hls_fmp4`]: `hls-fmp4/index.m3u8`.
    pub hls_fmp4: PathBuf,
    /// [`hls_master`]: `hls-master/master.m3u8`.
    pub hls_master: PathBuf,
    /// [`hls_aes128`]: `hls-aes128/index.m3u8`.
    pub hls_aes128: PathBuf,
    /// [`dash_template`]: `dash-template/manifest.mpd`.
    pub dash_template: PathBuf,
    /// [`dash_list`]: `dash-list/manifest.mpd`.
    pub dash_list: PathBuf,
}

impl Streams {
    /// Makes every stream in `root` (each in its own subfolder, as the
    /// functions of this module do).
    ///
    /// # Panics
    ///
    /// As the functions it calls.
    #[must_use]
    pub fn generate(root: &Path) -> Self {
        let relative = |manifest: PathBuf| {
            manifest
                .strip_prefix(root)
                .expect("a manifest is made under the root")
                .to_path_buf()
        };
        Self {
            root: root.to_path_buf(),
            hls_ts: relative(hls_ts(root)),
            hls_fmp4: relative(hls_fmp4(root)),
            hls_master: relative(hls_master(root)),
            hls_aes128: relative(hls_aes128(root)),
            dash_template: relative(dash_template(root)),
            dash_list: relative(dash_list(root)),
        }
    }

    /// `relative` (one of the fields, or a segment's path) under [`Streams::root`].
    #[must_use]
    pub fn path(&self, relative: &Path) -> PathBuf {
        self.root.join(relative)
    }
}

/// The ffmpeg to run: `$FFMPEG` if set, else the first `ffmpeg` on `PATH`.
///
/// # Panics
///
/// If `$FFMPEG` names no file, or there is no executable `ffmpeg` on `PATH`,
/// with [`INSTALL_HINT`]. Nothing is skipped.
#[must_use]
pub fn ffmpeg() -> PathBuf {
    if let Some(path) = std::env::var_os("FFMPEG") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "$FFMPEG is {}, which is not a file: {INSTALL_HINT}, or unset FFMPEG",
            path.display()
        );
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("ffmpeg"))
        .find(|candidate| is_executable(candidate))
        .unwrap_or_else(|| panic!("ffmpeg is not on PATH: {INSTALL_HINT}"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// An HLS media playlist (VOD) with MPEG-TS segments:
/// `dir/hls-ts/index.m3u8` and `seg0.ts` … `seg5.ts` beside it.
/// Returns the playlist's path.
///
/// # Panics
///
/// If ffmpeg is missing ([`ffmpeg`]), fails or outlives [`FFMPEG_TIMEOUT`]
/// (with its standard error).
#[must_use]
pub fn hls_ts(dir: &Path) -> PathBuf {
    let out = subfolder(dir, "hls-ts");
    let mut args = source_args();
    args.extend(encode_args());
    args.extend(hls_args());
    args.extend(strs(&["-hls_segment_filename", "seg%d.ts", "index.m3u8"]));
    run(&out, &args);
    out.join("index.m3u8")
}

/// An HLS media playlist (VOD) with fragmented MP4 segments and their
/// initialization segment in `#EXT-X-MAP:URI="init.mp4"`:
/// `dir/hls-fmp4/index.m3u8`, `init.mp4` and `seg0.m4s` … `seg5.m4s`.
/// Returns the playlist's path.
///
/// # Panics
///
/// As [`hls_ts`].
#[must_use]
pub fn hls_fmp4(dir: &Path) -> PathBuf {
    let out = subfolder(dir, "hls-fmp4");
    let mut args = source_args();
    args.extend(encode_args());
    args.extend(hls_args());
    args.extend(strs(&[
        "-hls_segment_type",
        "fmp4",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_segment_filename",
        "seg%d.m4s",
        "index.m3u8",
    ]));
    run(&out, &args);
    out.join("index.m3u8")
}

/// An HLS master playlist with two video variants (160×90 and 80×46, video
/// only, MPEG-TS) and one alternative audio rendition
/// (`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="group_audio",…,URI="audio/index.m3u8"`,
/// AAC only, which both variants name in `AUDIO=`), made in one ffmpeg run
/// with `-var_stream_map` and `-master_pl_name`:
/// `dir/hls-master/master.m3u8`, and a media playlist `index.m3u8` with its
/// segments `seg0.ts` … in each of `video-160/`, `video-80/` and `audio/`
/// (the audio has a 7th, 23 ms segment: the AAC encoder's priming).
/// Returns the master playlist's path.
///
/// # Panics
///
/// As [`hls_ts`].
#[must_use]
pub fn hls_master(dir: &Path) -> PathBuf {
    let out = subfolder(dir, "hls-master");
    let mut args = source_args();
    args.extend(strs(&[
        "-filter_complex",
        "[0:v]split=2[v0][v1];[v1]scale=80:-2[v1small]",
        "-map",
        "[v0]",
        "-map",
        "[v1small]",
        "-map",
        "1:a",
    ]));
    args.extend(encode_args());
    args.extend(strs(&["-b:v:0", "200k", "-b:v:1", "100k"]));
    args.extend(hls_args());
    args.extend(strs(&[
        "-master_pl_name",
        "master.m3u8",
        "-var_stream_map",
        "v:0,agroup:audio,name:video-160 v:1,agroup:audio,name:video-80 \
         a:0,agroup:audio,name:audio,default:yes,language:en",
        "-hls_segment_filename",
        "%v/seg%d.ts",
        "%v/index.m3u8",
    ]));
    run(&out, &args);
    out.join("master.m3u8")
}

/// An AES-128 encrypted HLS media playlist (MPEG-TS segments) whose
/// `#EXT-X-KEY:METHOD=AES-128,URI="key.bin",IV=0x0001…0f` names the key file
/// written beside it (the 16 bytes of [`AES128_KEY`]; the IV is [`AES128_IV`]
/// for every segment), through ffmpeg's
/// `-hls_key_info_file`: `dir/hls-aes128/index.m3u8`, `key.bin` and
/// `seg0.ts` … `seg5.ts`. The key info file ffmpeg reads is removed after.
/// Returns the playlist's path.
///
/// # Panics
///
/// As [`hls_ts`], or if the key files cannot be written.
#[must_use]
pub fn hls_aes128(dir: &Path) -> PathBuf {
    let out = subfolder(dir, "hls-aes128");
    std::fs::write(out.join("key.bin"), AES128_KEY).expect("write key.bin");
    // Line 1: the key's URI in the playlist; line 2: the key file ffmpeg reads;
    // line 3: the IV, in hex.
    let iv: String = AES128_IV.iter().map(|b| format!("{b:02x}")).collect();
    let key_info = out.join("key.info");
    std::fs::write(&key_info, format!("key.bin\nkey.bin\n{iv}\n")).expect("write key.info");
    let mut args = source_args();
    args.extend(encode_args());
    args.extend(hls_args());
    args.extend(strs(&[
        "-hls_key_info_file",
        "key.info",
        "-hls_segment_filename",
        "seg%d.ts",
        "index.m3u8",
    ]));
    run(&out, &args);
    std::fs::remove_file(key_info).expect("remove key.info");
    out.join("index.m3u8")
}

/// A DASH MPD (static) with a `SegmentTemplate` per representation
/// (`initialization="init-$RepresentationID$.m4s"`,
/// `media="chunk-$RepresentationID$-$Number$.m4s"`, `duration`, no timeline),
/// one video and one audio adaptation set: `dir/dash-template/manifest.mpd`,
/// `init-0.m4s`, `init-1.m4s`, `chunk-0-1.m4s` … `chunk-0-6.m4s` (video) and
/// `chunk-1-1.m4s` … `chunk-1-7.m4s` (audio; the 7th, the AAC priming's few
/// milliseconds, is past the MPD's 6 s and never requested).
/// Returns the MPD's path.
///
/// # Panics
///
/// As [`hls_ts`].
#[must_use]
pub fn dash_template(dir: &Path) -> PathBuf {
    let out = subfolder(dir, "dash-template");
    let mut args = source_args();
    args.extend(encode_args());
    args.extend(dash_args());
    args.extend(strs(&["-use_template", "1", "manifest.mpd"]));
    run(&out, &args);
    out.join("manifest.mpd")
}

/// A DASH MPD (static) with a `SegmentList` per representation: an
/// `<Initialization sourceURL="init-0.m4s"/>` and one
/// `<SegmentURL media="chunk-0-1.m4s"/>` per segment (ffmpeg's DASH muxer
/// with `-use_template 0 -use_timeline 0`), one video and one audio
/// adaptation set: `dir/dash-list/manifest.mpd` and the same files as
/// [`dash_template`] (here the audio's 7th segment is listed).
/// Returns the MPD's path.
///
/// # Panics
///
/// As [`hls_ts`].
#[must_use]
pub fn dash_list(dir: &Path) -> PathBuf {
    let out = subfolder(dir, "dash-list");
    let mut args = source_args();
    args.extend(encode_args());
    args.extend(dash_args());
    args.extend(strs(&["-use_template", "0", "manifest.mpd"]));
    run(&out, &args);
    out.join("manifest.mpd")
}

fn subfolder(dir: &Path, name: &str) -> PathBuf {
    let out = dir.join(name);
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("mkdir {}: {e}", out.display()));
    out
}

fn strs(args: &[&str]) -> Vec<String> {
    args.iter().map(|&arg| arg.to_owned()).collect()
}

/// The two generated inputs, cut to [`DURATION_SECS`] on output.
fn source_args() -> Vec<String> {
    let mut args = strs(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x90:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=44100",
        "-t",
    ]);
    args.push(DURATION_SECS.to_string());
    args
}

/// H.264 main profile with a keyframe every second (25 frames), and AAC.
fn encode_args() -> Vec<String> {
    strs(&[
        "-c:v",
        "libx264",
        "-profile:v",
        "main",
        "-pix_fmt",
        "yuv420p",
        "-preset",
        "veryfast",
        "-g",
        "25",
        "-keyint_min",
        "25",
        "-sc_threshold",
        "0",
        "-c:a",
        "aac",
        "-b:a",
        "64k",
    ])
}

fn hls_args() -> Vec<String> {
    strs(&["-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod"])
}

fn dash_args() -> Vec<String> {
    strs(&[
        "-f",
        "dash",
        "-seg_duration",
        "1",
        "-use_timeline",
        "0",
        "-init_seg_name",
        "init-$RepresentationID$.m4s",
        "-media_seg_name",
        "chunk-$RepresentationID$-$Number$.m4s",
    ])
}

/// Runs ffmpeg in `cwd` (so every name it writes, and so every URI in the
/// manifests, is relative), bounded by [`FFMPEG_TIMEOUT`].
fn run(cwd: &Path, args: &[String]) {
    let ffmpeg = ffmpeg();
    let mut command = Command::new(&ffmpeg);
    command
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null());
    let outcome = Measured::spawn(&mut command).finish(FFMPEG_TIMEOUT);
    assert!(
        !outcome.timed_out,
        "{} ran longer than {FFMPEG_TIMEOUT:?} in {} and was killed: {}",
        ffmpeg.display(),
        cwd.display(),
        outcome.stderr.trim()
    );
    assert!(
        outcome.code == Some(0),
        "{} failed in {} ({:?}, signal {:?}): {}\nargs: {args:?}",
        ffmpeg.display(),
        cwd.display(),
        outcome.code,
        outcome.signal,
        outcome.stderr.trim()
    );
}

/// The URIs an HLS playlist names, in order: its URI lines and the values of
/// its `URI="…"` attributes (a quick reader for tests that walk a stream as a
/// player does; the independent parser of the suite is Python's `m3u8`).
///
/// ```
/// let text = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1,\nseg0.m4s\n";
/// assert_eq!(cfsign_testkit::media::hls_uris(text), ["init.mp4", "seg0.m4s"]);
/// ```
#[must_use]
pub fn hls_uris(text: &str) -> Vec<String> {
    let mut uris = Vec::new();
    for line in text.lines() {
        if let Some((_, rest)) = line.split_once("URI=\"") {
            uris.push(rest[..rest.find('"').unwrap_or(rest.len())].to_owned());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            uris.push(line.trim().to_owned());
        }
    }
    uris
}

#![allow(clippy::unwrap_used)] // test code
//! The directory origin never serves anything outside its root, for every
//! request path of `tests/data/traversal-corpus.txt` (and variants of them).
//!
//! Layout built in a temporary directory:
//!
//! ```text
//! <tmp>/secret.txt                  SECRET marker (outside the root)
//! <tmp>/outside/secret.txt          SECRET marker (outside the root)
//! <tmp>/root/index.html
//! <tmp>/root/a/b.txt
//! <tmp>/root/sub/file.txt
//! <tmp>/root/%2e%2e/secret.txt      a literal "%2e%2e" directory: weird, but inside
//! <tmp>/root/link-out          ->   <tmp>/secret.txt (absolute)
//! <tmp>/root/link-out-rel      ->   ../secret.txt
//! <tmp>/root/link-out-dir      ->   ..
//! <tmp>/root/link-outside-dir  ->   <tmp>/outside
//! <tmp>/root/link-loop         ->   link-loop
//! <tmp>/root/link-dangling     ->   nowhere
//! <tmp>/root/link-in           ->   a/b.txt
//! <tmp>/root/link-in-dir       ->   sub
//! <tmp>/root/link-self         ->   .
//! ```

#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cfsign_edge::origin::{DirectoryOrigin, KeyError, ObjectKey, Origin, OriginError};
use cfsign_testkit::conformance::read_body;

const SECRET: &str = "SECRET-7f3a9c-must-never-be-served";

struct Layout {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    origin: DirectoryOrigin,
    /// Every regular file inside the root (not following symlinks): key -> bytes.
    inside: BTreeMap<String, Vec<u8>>,
}

fn layout() -> Layout {
    use std::os::unix::fs::symlink;

    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().canonicalize().unwrap();
    std::fs::write(top.join("secret.txt"), format!("{SECRET} top\n")).unwrap();
    std::fs::create_dir(top.join("outside")).unwrap();
    std::fs::write(
        top.join("outside/secret.txt"),
        format!("{SECRET} outside dir\n"),
    )
    .unwrap();

    let root = top.join("root");
    for dir in ["a", "sub", "%2e%2e"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    std::fs::write(root.join("index.html"), "<p>index</p>\n").unwrap();
    std::fs::write(root.join("a/b.txt"), "inside a/b\n").unwrap();
    std::fs::write(root.join("sub/file.txt"), "inside sub/file\n").unwrap();
    std::fs::write(
        root.join("%2e%2e/secret.txt"),
        "inside: a literal %2e%2e directory\n",
    )
    .unwrap();
    symlink(top.join("secret.txt"), root.join("link-out")).unwrap();
    symlink("../secret.txt", root.join("link-out-rel")).unwrap();
    symlink("..", root.join("link-out-dir")).unwrap();
    symlink(top.join("outside"), root.join("link-outside-dir")).unwrap();
    symlink("link-loop", root.join("link-loop")).unwrap();
    symlink("nowhere", root.join("link-dangling")).unwrap();
    symlink("a/b.txt", root.join("link-in")).unwrap();
    symlink("sub", root.join("link-in-dir")).unwrap();
    symlink(".", root.join("link-self")).unwrap();

    let mut inside = BTreeMap::new();
    collect_files(&root, "", &mut inside);
    assert_eq!(inside.len(), 4, "{inside:?}");
    let origin = DirectoryOrigin::new(&root).unwrap();
    Layout {
        _tmp: tmp,
        root,
        origin,
        inside,
    }
}

fn collect_files(dir: &Path, prefix: &str, files: &mut BTreeMap<String, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_str().unwrap());
        let kind = entry.file_type().unwrap(); // does not follow symlinks
        if kind.is_dir() {
            collect_files(&entry.path(), &format!("{name}/"), files);
        } else if kind.is_file() {
            files.insert(name, std::fs::read(entry.path()).unwrap());
        }
    }
}

/// What happened to one request path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Rejected(KeyError),
    NotFound,
    /// The origin failed (not a traversal: nothing was served).
    Unavailable,
    /// Served the bytes of this file inside the root.
    Served(String),
}

impl Layout {
    /// Requests `path` (head, get, and a ranged get) and checks whatever is
    /// served is a file inside the root; panics otherwise.
    async fn request(&self, path: &str) -> Outcome {
        let key = match ObjectKey::from_request_path(path) {
            Ok(key) => key,
            Err(e) => return Outcome::Rejected(e),
        };
        assert!(
            !key.as_str().starts_with('/'),
            "{path:?} gave an absolute key {key:?}"
        );
        let head = self.origin.head(&key).await;
        let get = self.origin.get(&key, None).await;
        match (head, get) {
            (Err(OriginError::NotFound), Err(OriginError::NotFound)) => Outcome::NotFound,
            (Err(OriginError::Unavailable(_)), Err(OriginError::Unavailable(_))) => {
                Outcome::Unavailable
            }
            (Ok(head), Ok(response)) => {
                let meta = head.meta;
                let body = read_body(response.body).await;
                let body_text = String::from_utf8_lossy(&body);
                assert!(
                    !body_text.contains(SECRET),
                    "{path:?} served a secret outside the root: {body_text:?}"
                );
                let Some((file, _)) = self.inside.iter().find(|(_, bytes)| **bytes == body) else {
                    panic!(
                        "{path:?} (key {key:?}) served bytes that are no file inside the root: {body_text:?}"
                    );
                };
                assert_eq!(meta.size, body.len() as u64, "{path:?}: head size");
                assert_eq!(response.meta, meta, "{path:?}: get and head metadata");
                // A ranged get serves a part of the same file.
                if !body.is_empty() {
                    let range = cfsign_edge::origin::ByteRange {
                        start: 0,
                        end: meta.size - 1,
                    };
                    let stream = self.origin.get(&key, Some(range)).await.unwrap().body;
                    let ranged = read_body(stream).await;
                    assert_eq!(ranged, body, "{path:?}: ranged body");
                }
                Outcome::Served(file.clone())
            }
            (head, get) => panic!(
                "{path:?}: head and get disagree: {head:?} / {:?}",
                get.map(|r| r.meta)
            ),
        }
    }
}

fn corpus() -> Vec<String> {
    let text = include_str!("data/traversal-corpus.txt");
    let mut paths: Vec<String> = text
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    assert!(paths.len() >= 80, "the corpus has {} paths", paths.len());
    // Paths a text file cannot hold well.
    paths.extend(
        [
            "",
            "/a\0b",
            "/\0",
            "/a\tb",
            "/a\nb",
            "/a\r\n/../secret.txt",
            "/\u{7f}",
            "/\u{85}",
            "/\u{2028}",
            "/a/b.txt\0.jpg",
        ]
        .map(str::to_owned),
    );
    paths.push(format!("/{}", "a/".repeat(2000)));
    paths.push(format!("/{}secret.txt", "../".repeat(500)));
    paths.push(format!("/{}secret.txt", "%2e%2e/".repeat(300)));
    paths.push(format!("/{}", "a".repeat(300))); // a name longer than the file system allows
    paths.push(format!("/a/{}", "%c0%ae".repeat(400)));
    paths.push(format!("/{}", "x".repeat(1024))); // exactly the longest key
    paths.push(format!("/{}", "x".repeat(1025)));
    paths.push(format!("/{}", "%41".repeat(1024 * 3 + 1)));
    paths
}

/// Every corpus path, as is and below other directories.
fn variants(path: &str) -> Vec<String> {
    let mut out = vec![path.to_owned()];
    for prefix in [
        "/a",
        "/sub",
        "/link-in-dir",
        "/link-self",
        "/link-out-dir",
        "/%252e%252e",
    ] {
        if path.starts_with('/') {
            out.push(format!("{prefix}{path}"));
        } else {
            out.push(format!("{prefix}/{path}"));
        }
    }
    if !path.starts_with('/') {
        out.push(format!("/{path}"));
    }
    out
}

#[tokio::test]
async fn nothing_outside_the_root_is_ever_served() {
    let layout = layout();
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    let mut served = Vec::new();
    for path in corpus() {
        for variant in variants(&path) {
            let outcome = layout.request(&variant).await;
            let name = match &outcome {
                Outcome::Rejected(_) => "rejected",
                Outcome::NotFound => "not found",
                Outcome::Unavailable => "unavailable",
                Outcome::Served(_) => "served",
            };
            *tally.entry(name).or_default() += 1;
            if let Outcome::Served(file) = outcome {
                served.push(format!("{variant} -> {file}"));
            }
        }
    }
    eprintln!(
        "traversal corpus: {tally:?}\nserved:\n  {}",
        served.join("\n  ")
    );
    assert!(tally["rejected"] > 300, "{tally:?}");
    assert!(tally["not found"] > 50, "{tally:?}");
    assert!(tally["served"] >= 10, "{tally:?}");
}

#[tokio::test]
async fn specific_expectations() {
    let layout = layout();
    let rejected = |e: KeyError| Outcome::Rejected(e);
    let served = |file: &str| Outcome::Served(file.to_owned());
    let cases = [
        ("/a/%2e%2e/secret.txt", rejected(KeyError::DotSegment)),
        ("/../secret.txt", rejected(KeyError::DotSegment)),
        ("/%2E%2e/secret.txt", rejected(KeyError::DotSegment)),
        ("/.%2e/secret.txt", rejected(KeyError::DotSegment)),
        ("/a/./b.txt", rejected(KeyError::DotSegment)),
        ("/a/..", rejected(KeyError::DotSegment)),
        (
            "/..%2fsecret.txt",
            rejected(KeyError::ForbiddenCharacter("encoded '/'")),
        ),
        (
            "/%2fetc%2fpasswd",
            rejected(KeyError::ForbiddenCharacter("encoded '/'")),
        ),
        (
            "/..%5csecret.txt",
            rejected(KeyError::ForbiddenCharacter("backslash")),
        ),
        (
            "/..\\secret.txt",
            rejected(KeyError::ForbiddenCharacter("backslash")),
        ),
        (
            "/secret.txt%00",
            rejected(KeyError::ForbiddenCharacter("NUL")),
        ),
        (
            "/a/b.txt\0.jpg",
            rejected(KeyError::ForbiddenCharacter("NUL")),
        ),
        (
            "/a%0a/b.txt",
            rejected(KeyError::ForbiddenCharacter("control character")),
        ),
        (
            "/%c2%85",
            rejected(KeyError::ForbiddenCharacter("control character")),
        ),
        ("/%c0%ae%c0%ae/secret.txt", rejected(KeyError::NotUtf8)),
        (
            "/%e0%80%ae%e0%80%ae/secret.txt",
            rejected(KeyError::NotUtf8),
        ),
        ("/..%c0%afsecret.txt", rejected(KeyError::NotUtf8)),
        ("/%ed%a0%80", rejected(KeyError::NotUtf8)),
        ("/%zz/secret.txt", rejected(KeyError::BadEscape)),
        ("/%2", rejected(KeyError::BadEscape)),
        ("//etc/passwd", rejected(KeyError::EmptySegment)),
        ("etc/passwd", rejected(KeyError::NotAbsolute)),
        ("\\..\\secret.txt", rejected(KeyError::NotAbsolute)),
        ("", rejected(KeyError::NotAbsolute)),
        // Double encoding decodes once, to a literal (and here existing) name inside the root.
        ("/%252e%252e/secret.txt", served("%2e%2e/secret.txt")),
        ("/%252e%252e%252fsecret.txt", Outcome::NotFound),
        ("/etc/passwd", Outcome::NotFound),
        ("/C:/Windows/win.ini", Outcome::NotFound),
        ("/a/b.txt.", Outcome::NotFound),
        ("/a/b.txt/", Outcome::NotFound),
        ("/a/", Outcome::NotFound),
        ("/a", Outcome::NotFound),
        ("/", Outcome::NotFound),
        ("/%ef%bc%8e%ef%bc%8e/secret.txt", Outcome::NotFound),
        // Symlinks out of the root are not found; symlinks within it are followed.
        ("/link-out", Outcome::NotFound),
        ("/link-out-rel", Outcome::NotFound),
        ("/link-out-dir/secret.txt", Outcome::NotFound),
        ("/link-out-dir/outside/secret.txt", Outcome::NotFound),
        ("/link-outside-dir/secret.txt", Outcome::NotFound),
        ("/link-dangling", Outcome::NotFound),
        ("/link-loop", Outcome::NotFound),
        ("/link-in", served("a/b.txt")),
        ("/link-in-dir/file.txt", served("sub/file.txt")),
        ("/link-self/a/b.txt", served("a/b.txt")),
        // Out through a symlink and back into the root: the file is inside.
        ("/link-out-dir/root/index.html", served("index.html")),
        ("/index.html", served("index.html")),
        (&format!("/{}", "a".repeat(300)), Outcome::NotFound),
        (&format!("/{}", "x".repeat(1024)), Outcome::NotFound),
        (
            &format!("/{}", "x".repeat(1025)),
            rejected(KeyError::TooLong),
        ),
    ];
    let mut failures = Vec::new();
    for (path, expected) in &cases {
        let outcome = layout.request(path).await;
        if outcome != *expected {
            failures.push(format!("{path:?}: {outcome:?}, expected {expected:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "root {}:\n{}",
        layout.root.display(),
        failures.join("\n")
    );
}

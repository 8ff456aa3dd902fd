//! `cfsign edge` reloads without a restart through the admin listener's
//! authenticated `POST /reload` and through `--watch-config` (a Kubernetes
//! secret's `..data` symlink swap), over real sockets on 127.0.0.1: the same
//! routine as SIGHUP, counted in the same metrics.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cfsign_testkit::cli::{self, EdgeProcess, admin_base, metric, write_private};
use cfsign_testkit::http::{Reply, fetch, get_blocking};
use cfsign_testkit::signer::TestSigner;
use http::{Method, StatusCode};

const CFSIGN: &str = env!("CARGO_BIN_EXE_cfsign");
const TOKEN: &str = "5c1f0e8a7b3d46e2a9f07c5b1d2e3f4a5c1f0e8a7b3d46e2a9f07c5b1d2e3f4a";

fn block<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// `POST url` (no body) with `Authorization: VALUE` when given.
fn post(url: &str, authorization: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = authorization
        .map(|v| ("authorization", v))
        .into_iter()
        .collect();
    block(fetch(Method::POST, url, &headers))
}

fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.text()))
}

fn reloads(admin: &str) -> (u64, u64) {
    (
        metric(admin, "cfsign_edge_reloads_total{result=\"ok\"}")
            .parse()
            .unwrap(),
        metric(admin, "cfsign_edge_reloads_total{result=\"error\"}")
            .parse()
            .unwrap(),
    )
}

fn last_reload(admin: &str) -> u64 {
    metric(admin, "cfsign_edge_last_reload_timestamp_seconds ")
        .parse()
        .unwrap()
}

fn status(url: &str) -> StatusCode {
    get_blocking(url, &[]).status
}

/// A key group `main` of `keys` (ID, file), a restricted default behavior on `media`.
fn config(keys: &[(&str, &str)], extra: &str) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|(id, file)| format!("{{ id = \"{id}\", public_key = \"{file}\" }}"))
        .collect();
    format!(
        "{extra}[key_groups.main]\nkeys = [{}]\n[origins.media]\ntype = \"directory\"\nroot = \"media\"\n\
         [default_behavior]\norigin = \"media\"\ntrusted_key_groups = [\"main\"]\n",
        keys.join(", ")
    )
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn post_reload_with_the_token_reloads_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    std::fs::write(dir.path().join("media/paid.txt"), "paid").unwrap();
    let (a, b) = (TestSigner::new("KA"), TestSigner::new("KB"));
    a.write_public_key(&dir.path().join("a.pem"));
    b.write_public_key(&dir.path().join("b.pem"));
    let token = dir.path().join("admin-token");
    write_private(&token, &format!("{TOKEN}\n"));
    let file = dir.path().join("edge.toml");
    std::fs::write(
        &file,
        config(&[("KA", "a.pem")], "admin_token_file = \"admin-token\"\n"),
    )
    .unwrap();
    let mut edge = EdgeProcess::start(
        CFSIGN,
        &[
            "--config",
            file.to_str().unwrap(),
            "--admin-listen",
            "127.0.0.1:0",
        ],
    );
    let line = edge.next_line();
    assert!(
        line.ends_with("POST /reload; the last two need the bearer token)"),
        "{line}"
    );
    let admin = admin_base(&line);
    let reload_url = format!("{admin}/reload");
    let paid = format!("{}/paid.txt", edge.base());
    assert_eq!(status(&a.sign_url(&paid, 300)), StatusCode::OK);
    assert_eq!(status(&b.sign_url(&paid, 300)), StatusCode::FORBIDDEN);
    assert_eq!((reloads(&admin), last_reload(&admin)), ((0, 0), 0));

    // the key group gains key B; without the token, or with another, nothing happens
    std::fs::write(
        &file,
        config(
            &[("KA", "a.pem"), ("KB", "b.pem")],
            "admin_token_file = \"admin-token\"\n",
        ),
    )
    .unwrap();
    let wrong = format!("Bearer {}", TOKEN.replace('5', "6"));
    for authorization in [None, Some(wrong.as_str()), Some(TOKEN)] {
        let reply = post(&reload_url, authorization);
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        let challenge = reply.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "{challenge:?}");
        assert!(!reply.text().contains(TOKEN));
    }
    assert_eq!(status(&b.sign_url(&paid, 300)), StatusCode::FORBIDDEN);
    assert_eq!((reloads(&admin), last_reload(&admin)), ((0, 0), 0));

    // with it: reloaded, key B is trusted, counted, and the time is set
    let bearer = format!("Bearer {TOKEN}");
    let reply = post(&reload_url, Some(&bearer));
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer = json(&reply);
    assert_eq!(answer["reloaded"], true, "{answer}");
    assert_eq!(answer["behaviors"], 1, "{answer}");
    assert_eq!(answer["admin_token"], true, "{answer}");
    // the configuration changed, and it now names b.pem
    let changed = serde_json::json!([
        dir.path().join("b.pem").display().to_string(),
        file.display().to_string()
    ]);
    assert_eq!(answer["changed"], changed, "{answer}");
    let line = edge.next_line();
    assert!(line.contains("reloaded (POST /reload; changed: "), "{line}");
    assert!(!line.contains(TOKEN), "{line}");
    assert_eq!(status(&b.sign_url(&paid, 300)), StatusCode::OK);
    assert_eq!(reloads(&admin), (1, 0));
    let at = last_reload(&admin);
    assert!(at <= now() && at + 60 > now(), "{at}");

    // an invalid configuration: 422 with the reason; the running one keeps serving
    std::fs::write(
        &file,
        "admin_token_file = \"admin-token\"\n[origins.media]\ntype = \"directory\"\nroot = \"nope\"\n\
         [default_behavior]\norigin = \"media\"\nrestricted = false\n",
    )
    .unwrap();
    let reply = post(&reload_url, Some(&bearer));
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text()
    );
    let answer = json(&reply);
    assert_eq!(answer["reloaded"], false);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("origins.media.root"),
        "{answer}"
    );
    let line = edge.next_line();
    assert!(line.contains("reload failed (POST /reload)"), "{line}");
    assert_eq!(status(&b.sign_url(&paid, 300)), StatusCode::OK);
    assert_eq!(status(&paid), StatusCode::FORBIDDEN);
    assert_eq!(reloads(&admin), (1, 1));
    assert_eq!(last_reload(&admin), at);

    // the token guards invalidations too; `edge invalidate --admin-token-file` sends it
    let invalidate = |extra: &[&str]| {
        let mut command = cli::command(CFSIGN);
        command
            .args(["edge", "invalidate", "--admin", &admin])
            .args(extra)
            .arg("/paid.txt");
        cli::run(&mut command)
    };
    let (code, stdout, _) = invalidate(&[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("401"), "{stdout}");
    let (code, stdout, stderr) = invalidate(&["--admin-token-file", token.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 path(s)"), "{stdout}");

    // concurrent reloads: each runs (one at a time) and is counted
    std::fs::write(
        &file,
        config(&[("KB", "b.pem")], "admin_token_file = \"admin-token\"\n"),
    )
    .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (url, bearer) = (reload_url.clone(), bearer.clone());
            std::thread::spawn(move || post(&url, Some(&bearer)).status)
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), StatusCode::OK);
    }
    for _ in 0..4 {
        assert!(edge.next_line().contains("reloaded (POST /reload"));
    }
    assert_eq!(reloads(&admin), (5, 1));
    assert_eq!(status(&a.sign_url(&paid, 300)), StatusCode::FORBIDDEN);

    // a reload reads the token file again: the new token is required from then on
    let rotated = TOKEN.replace('a', "b");
    write_private(&token, &rotated);
    let reply = post(&reload_url, Some(&bearer));
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(
        edge.next_line()
            .contains("admin token reloaded (POST /reload")
    );
    assert_eq!(
        post(&reload_url, Some(&bearer)).status,
        StatusCode::UNAUTHORIZED
    );
    let reply = post(&reload_url, Some(&format!("Bearer {rotated}")));
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(json(&reply)["changed"], serde_json::json!([]));
    assert!(edge.next_line().contains("(POST /reload; no file changed)"));

    edge.signal("TERM");
    edge.wait_for_exit();
}

#[test]
fn without_a_token_reload_is_refused_and_bad_tokens_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    let a = TestSigner::new("KA");
    a.write_public_key(&dir.path().join("a.pem"));
    let file = dir.path().join("edge.toml");
    std::fs::write(&file, config(&[("KA", "a.pem")], "")).unwrap();
    let mut edge = EdgeProcess::start(
        CFSIGN,
        &[
            "--config",
            file.to_str().unwrap(),
            "--admin-listen",
            "127.0.0.1:0",
        ],
    );
    let line = edge.next_line();
    assert!(
        line.ends_with("(/healthz, /readyz, /metrics, POST /invalidations)"),
        "{line}"
    );
    let admin = admin_base(&line);
    for authorization in [None, Some(format!("Bearer {TOKEN}"))] {
        let reply = post(&format!("{admin}/reload"), authorization.as_deref());
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        let message = json(&reply)["error"].as_str().unwrap().to_owned();
        assert!(
            message.contains("admin_token_file") && message.contains("openssl rand -hex 32"),
            "{message}"
        );
    }
    assert_eq!(reloads(&admin), (0, 0));
    edge.signal("TERM");
    edge.wait_for_exit();

    // a token others can read, or too short, is refused with the file and the fix
    let token = dir.path().join("admin-token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let check = |extra: &[&str]| {
        let mut command = cli::command(CFSIGN);
        command
            .args(["edge", "--config", file.to_str().unwrap(), "--check"])
            .args(extra);
        cli::run(&mut command)
    };
    // a token guards the admin listener: without one it is refused, naming both flags
    let (code, _, stderr) = check(&["--admin-token-file", token.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--admin-token-file: an admin token guards the admin listener")
            && stderr.contains("give --admin-listen ADDR too"),
        "{stderr}"
    );
    let flag = [
        "--admin-listen",
        "127.0.0.1:9901",
        "--admin-token-file",
        token.to_str().unwrap(),
    ];
    let (code, _, stderr) = check(&flag);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--admin-token-file: the admin token file"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("chmod 600 {}", token.display())),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "{stderr}");
    write_private(&token, "short\n");
    let (code, _, stderr) = check(&flag);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains(&format!("openssl rand -hex 32 > {}", token.display())),
        "{stderr}"
    );
    write_private(&token, TOKEN);
    let (code, stdout, stderr) = check(&flag);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("admin token: {}", token.display())),
        "{stdout}"
    );
}

#[test]
fn a_reload_applies_what_it_can_and_names_what_needs_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    std::fs::write(dir.path().join("media/free.txt"), "free").unwrap();
    let token = dir.path().join("admin-token");
    write_private(&token, TOKEN);
    let public = |listen: &str, root: &str| {
        format!(
            "listen = \"{listen}\"\nadmin_listen = \"127.0.0.1:0\"\nadmin_token_file = \"admin-token\"\n\
             [origins.media]\ntype = \"directory\"\nroot = \"{root}\"\n\
             [default_behavior]\norigin = \"media\"\nrestricted = false\n"
        )
    };
    let file = dir.path().join("edge.toml");
    std::fs::write(&file, public("127.0.0.1:0", "media")).unwrap();
    // started here rather than by EdgeProcess, whose --listen would take the file's place
    let mut child = std::process::Command::new(CFSIGN)
        .args(["edge", "--config", file.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = cfsign_testkit::lines::Lines::new(child.stderr.take().unwrap());
    let line = stderr.next();
    let base = line
        .strip_prefix("cfsign edge: listening on ")
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    let admin = admin_base(&stderr.next());
    assert_eq!(status(&format!("{base}/free.txt")), StatusCode::OK);

    // another address, and another origin root: the root is applied, the address is not
    let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let new_address = elsewhere.local_addr().unwrap();
    drop(elsewhere);
    std::fs::create_dir_all(dir.path().join("other")).unwrap();
    std::fs::write(dir.path().join("other/other.txt"), "other").unwrap();
    std::fs::write(&file, public(&new_address.to_string(), "other")).unwrap();
    let reply = post(&format!("{admin}/reload"), Some(&format!("Bearer {TOKEN}")));
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let answer = json(&reply);
    assert_eq!(answer["reloaded"], true, "{answer}");
    assert_eq!(
        answer["not_applied"],
        serde_json::json!(["listen"]),
        "{answer}"
    );
    assert!(stderr.next().contains("reloaded (POST /reload; changed: "));
    let line = stderr.next();
    assert!(
        line.contains("not applied by the reload")
            && line.contains("listen")
            && line.contains("a restart applies them"),
        "{line}"
    );
    // still on the old address, serving the new root; nothing on the new one
    assert_eq!(status(&format!("{base}/other.txt")), StatusCode::OK);
    assert_eq!(status(&format!("{base}/free.txt")), StatusCode::NOT_FOUND);
    assert!(std::net::TcpStream::connect(new_address).is_err());
    assert_eq!(reloads(&admin), (1, 0));

    // no such change: nothing to report
    std::fs::write(&file, public("127.0.0.1:0", "other")).unwrap();
    let reply = post(&format!("{admin}/reload"), Some(&format!("Bearer {TOKEN}")));
    assert_eq!(json(&reply)["not_applied"], serde_json::json!([]));

    let _ = child.kill();
    let _ = child.wait();
}

/// Kubernetes' update of a mounted secret: the new contents in a new folder,
/// then `..data` swapped to it atomically (a rename over the old symlink).
fn swap(secret: &Path, version: &str, key_pem: &str) {
    std::fs::create_dir(secret.join(version)).unwrap();
    std::fs::write(secret.join(version).join("key.pem"), key_pem).unwrap();
    std::os::unix::fs::symlink(version, secret.join("..data_tmp")).unwrap();
    std::fs::rename(secret.join("..data_tmp"), secret.join("..data")).unwrap();
}

fn public_pem(signer: &TestSigner) -> String {
    signer.public_key().to_pem().unwrap()
}

#[test]
fn the_watch_reloads_a_secret_swapped_by_symlink_and_counts_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    std::fs::write(dir.path().join("media/paid.txt"), "paid").unwrap();
    // the same key-pair ID, a new key: a rotation in place
    let (old, new) = (TestSigner::new("KW"), TestSigner::new("KW"));
    let secret = dir.path().join("secret");
    std::fs::create_dir(&secret).unwrap();
    swap(&secret, "..v1", &public_pem(&old));
    std::os::unix::fs::symlink("..data/key.pem", secret.join("key.pem")).unwrap();
    let file = dir.path().join("edge.toml");
    std::fs::write(&file, config(&[("KW", "secret/key.pem")], "")).unwrap();
    let mut edge = EdgeProcess::start(
        CFSIGN,
        &[
            "--config",
            file.to_str().unwrap(),
            "--admin-listen",
            "127.0.0.1:0",
            "--watch-config",
            "--watch-interval",
            "1",
        ],
    );
    let admin = admin_base(&edge.next_line());
    let line = edge.next_line();
    assert!(
        line.contains("watching 2 file(s)") && line.contains("every 1s"),
        "{line}"
    );
    let paid = format!("{}/paid.txt", edge.base());
    assert_eq!(status(&old.sign_url(&paid, 300)), StatusCode::OK);
    assert_eq!(status(&new.sign_url(&paid, 300)), StatusCode::FORBIDDEN);

    // the swap is seen, held still for a tick, and reloaded
    swap(&secret, "..v2", &public_pem(&new));
    let line = edge.next_line();
    assert!(
        line.contains("reloaded (a change of the watched files; changed: ")
            && line.contains("secret/key.pem"),
        "{line}"
    );
    assert_eq!(status(&new.sign_url(&paid, 300)), StatusCode::OK);
    assert_eq!(status(&old.sign_url(&paid, 300)), StatusCode::FORBIDDEN);
    assert_eq!(reloads(&admin), (1, 0));
    let at = last_reload(&admin);
    assert!(at <= now() && at + 60 > now(), "{at}");

    // a broken secret: a failed reload, counted once (not retried while it stays so)
    swap(
        &secret,
        "..v3",
        "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
    );
    let line = edge.next_line();
    assert!(
        line.contains("reload failed (a change of the watched files)")
            && line.contains("key_groups.main.keys[0].public_key"),
        "{line}"
    );
    assert_eq!(status(&new.sign_url(&paid, 300)), StatusCode::OK);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(reloads(&admin), (1, 1));
    assert_eq!(last_reload(&admin), at);

    // a file written in place, caught half-written for less than a tick: only
    // the whole one is applied
    let whole = public_pem(&old);
    let target = secret.join("..v3/key.pem");
    std::fs::write(&target, &whole[..whole.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&target, &whole).unwrap();
    let line = edge.next_line();
    assert!(
        line.contains("reloaded (a change of the watched files"),
        "{line}"
    );
    assert_eq!(status(&old.sign_url(&paid, 300)), StatusCode::OK);
    assert_eq!(status(&new.sign_url(&paid, 300)), StatusCode::FORBIDDEN);
    assert_eq!(reloads(&admin), (2, 1));

    edge.signal("TERM");
    edge.wait_for_exit();
}

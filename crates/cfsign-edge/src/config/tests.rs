//! Loading and validating configurations.

use std::time::Duration;

use super::*;

struct Dir {
    dir: tempfile::TempDir,
}

fn dir() -> Dir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("media")).unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    let key = cfsign::PrivateKey::generate(cfsign::KeyType::EcdsaP256).unwrap();
    std::fs::write(
        dir.path().join("keys/public_key.pem"),
        key.public_key().unwrap().to_pem().unwrap(),
    )
    .unwrap();
    Dir { dir }
}

const FULL: &str = r#"
listen = "127.0.0.1:9090"
public_base_url = "https://cdn.example.com/"
trusted_proxies = ["10.0.0.0/8", "192.0.2.1"]
signature_cache = 10

[key_groups.main]
keys = [{ id = "K2JCJMDEHXQW5F", public_key = "keys/public_key.pem" }]

[origins.media]
type = "directory"
root = "media"

[[behaviors]]
path_pattern = "/public/*"
origin = "media"
restricted = false

[[behaviors]]
path_pattern = "*.m3u8"
origin = "media"
trusted_key_groups = ["main"]
min_ttl = 1
default_ttl = 2
max_ttl = 5

[cache]
max_bytes = 1_048_576
max_object_bytes = 65_536
error_ttl = 3

[default_behavior]
origin = "media"
trusted_key_groups = ["main"]
"#;

fn load(d: &Dir, text: &str) -> Result<EdgeConfig, ConfigError> {
    let path = d.dir.path().join("edge.toml");
    std::fs::write(&path, text).unwrap();
    ConfigFile::read(&path)?.load(d.dir.path())
}

#[test]
fn full_configuration_loads() {
    let d = dir();
    let config = load(&d, FULL).unwrap();
    assert_eq!(config.listen.to_string(), "127.0.0.1:9090");
    let b = &config.behaviors;
    assert!(b.select("/public/a.txt").access.is_none());
    assert_eq!(b.select("/videos/x.m3u8").pattern.as_str(), "*.m3u8");
    assert_eq!(b.select("/anything").pattern.as_str(), "*");
    assert!(b.select("/anything").access.is_some());
    assert_eq!(b.iter().count(), 3);
    let ttl = b.select("/videos/x.m3u8").ttl;
    assert_eq!(
        (ttl.min(), ttl.default_ttl(), ttl.max()),
        (
            Duration::from_secs(1),
            Duration::from_secs(2),
            Duration::from_secs(5)
        )
    );
    assert_eq!(b.select("/anything").ttl, TtlPolicy::default());
    assert_eq!(
        config.cache,
        Some(CacheSettings {
            max_bytes: 1 << 20,
            max_object_bytes: 1 << 16,
            error_ttl: Duration::from_secs(3),
        })
    );
    let off = FULL.replace("max_bytes = 1_048_576", "max_bytes = 0");
    assert_eq!(load(&d, &off).unwrap().cache, None, "0 turns the cache off");
}

#[test]
fn minimal_configuration_uses_defaults() {
    let d = dir();
    let config = load(&d, "[origins.m]\ntype = \"directory\"\nroot = \"media\"\n[default_behavior]\norigin = \"m\"\nrestricted = false\n").unwrap();
    assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
    assert_eq!(config.admin_listen, None);
    assert_eq!(config.access_log, Some(AccessLogFormat::Text));
    assert_eq!(config.access_log_file, None);
    assert_eq!(config.cache, Some(CacheSettings::default()));
}

#[test]
fn admin_listener_and_access_log() {
    let d = dir();
    let text = FULL.replacen(
        "signature_cache = 10\n",
        "signature_cache = 10\nadmin_listen = \"127.0.0.1:9901\"\naccess_log = \"json\"\naccess_log_file = \"logs/access.log\"\n",
        1,
    );
    let config = load(&d, &text).unwrap();
    assert_eq!(config.admin_listen, Some("127.0.0.1:9901".parse().unwrap()));
    assert_eq!(config.access_log, Some(AccessLogFormat::Json));
    assert_eq!(
        config.access_log_file,
        Some(d.dir.path().join("logs/access.log"))
    );
    let off = FULL.replacen(
        "signature_cache = 10\n",
        "signature_cache = 10\naccess_log = \"off\"\n",
        1,
    );
    assert_eq!(load(&d, &off).unwrap().access_log, None);
    let bad = FULL.replacen(
        "signature_cache = 10\n",
        "signature_cache = 10\naccess_log = \"xml\"\n",
        1,
    );
    let err = load(&d, &bad).unwrap_err().to_string();
    assert!(err.starts_with("access_log: \"xml\" is not"), "{err}");
    let bad = FULL.replacen(
        "signature_cache = 10\n",
        "signature_cache = 10\nadmin_listen = \"localhost\"\n",
        1,
    );
    let err = load(&d, &bad).unwrap_err().to_string();
    assert!(err.contains("admin_listen"), "{err}");
}

#[test]
fn send_timeout_and_listen_backlog() {
    let d = dir();
    let config = load(&d, FULL).unwrap();
    assert_eq!(config.send_timeout, crate::server::DEFAULT_SEND_TIMEOUT);
    assert_eq!(config.send_timeout, Duration::from_secs(30));
    assert_eq!(config.listen_backlog, 511);
    let with = |lines: &str| {
        FULL.replacen(
            "signature_cache = 10\n",
            &format!("signature_cache = 10\n{lines}"),
            1,
        )
    };
    let config = load(&d, &with("send_timeout = 5\nlisten_backlog = 4096\n")).unwrap();
    assert_eq!(config.send_timeout, Duration::from_secs(5));
    assert_eq!(config.listen_backlog, 4096);
    for (line, message) in [
        (
            "send_timeout = 0",
            "send_timeout: 0 is not between 1 and 3600 seconds; leave it out for the default, 30 seconds",
        ),
        (
            "send_timeout = 86400",
            "send_timeout: 86400 is not between 1 and 3600 seconds",
        ),
        (
            "listen_backlog = 0",
            "listen_backlog: 0 is not between 1 and 65535; leave it out for the default, 511",
        ),
        (
            "listen_backlog = 10000000000",
            "listen_backlog: 10000000000 is not between 1 and 65535",
        ),
    ] {
        let err = load(&d, &with(&format!("{line}\n")))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(message), "{line}: {err}");
    }
}

#[test]
fn every_mistake_names_its_field() {
    let d = dir();
    let cases: &[(&str, &str, &str)] = &[
        (
            "origin = \"media\"\ntrusted_key_groups = [\"main\"]",
            "origin = \"mdia\"\ntrusted_key_groups = [\"main\"]",
            "behaviors[1].origin: no origin named \"mdia\"; defined: media",
        ),
        (
            "[default_behavior]\norigin = \"media\"\ntrusted_key_groups = [\"main\"]",
            "[default_behavior]\norigin = \"media\"\ntrusted_key_groups = [\"mian\"]",
            "default_behavior.trusted_key_groups: no key group named \"mian\"; defined: main",
        ),
        (
            "[default_behavior]\norigin = \"media\"\ntrusted_key_groups = [\"main\"]",
            "[default_behavior]\norigin = \"media\"",
            "default_behavior: a restricted behavior needs trusted_key_groups",
        ),
        (
            "[default_behavior]\norigin = \"media\"",
            "[default_behavior]\npath_pattern = \"*\"\norigin = \"media\"",
            "default_behavior.path_pattern",
        ),
        ("\"10.0.0.0/8\"", "\"10.0.0.0/33\"", "trusted_proxies[0]"),
        ("root = \"media\"", "root = \"nope\"", "origins.media.root"),
        (
            "keys/public_key.pem",
            "keys/missing.pem",
            "key_groups.main.keys[0].public_key",
        ),
        (
            "id = \"K2JCJMDEHXQW5F\"",
            "id = \"AKIAIOSFODNN7EXAMPLE\"",
            "key_groups.main.keys[0].id",
        ),
        (
            "path_pattern = \"*.m3u8\"",
            "path_pattern = \"a b\"",
            "behaviors[1].path_pattern",
        ),
        (
            "restricted = false",
            "restricted = false\ntrusted_key_groups = [\"main\"]",
            "behaviors[0]: trusted_key_groups is set but restricted = false",
        ),
        (
            "https://cdn.example.com/",
            "https://cdn.example.com/path",
            "public_base_url",
        ),
        (
            "signature_cache = 10",
            "signature_cache = 10\ncolour = \"blue\"",
            "unknown field `colour`",
        ),
        (
            "type = \"directory\"",
            "type = \"ftp\"",
            "unknown variant `ftp`",
        ),
        (
            "default_ttl = 2",
            "default_ttl = 9",
            "behaviors[1]: TTLs must satisfy min_ttl <= default_ttl <= max_ttl (got min_ttl = 1, default_ttl = 9, max_ttl = 5)",
        ),
        (
            "max_object_bytes = 65_536",
            "max_object_bytes = 2_000_000",
            "cache.max_object_bytes: 2000000 is larger than cache.max_bytes (1048576)",
        ),
        ("error_ttl = 3", "error_tl = 3", "unknown field `error_tl`"),
        (
            "max_bytes = 1_048_576\nmax_object_bytes = 65_536",
            "max_bytes = 10_000_000_000\nmax_object_bytes = 5_000_000_000",
            "cache.max_object_bytes: 5000000000 is above the largest cacheable object",
        ),
    ];
    for (from, to, needle) in cases {
        assert!(FULL.contains(from), "case does not apply: {from}");
        let text = FULL.replacen(from, to, 1);
        let err = load(&d, &text).expect_err(to).to_string();
        assert!(err.contains(needle), "{to:?}\n=> {err}\nlacks {needle:?}");
    }
}

#[test]
fn s3_and_http_origins() {
    let d = dir();
    let text = "[origins.bucket]\ntype = \"s3\"\nbucket = \"media\"\nprefix = \"site/\"\nregion = \"eu-west-1\"\n\
                endpoint = \"http://127.0.0.1:9000\"\nallow_http = true\n\
                [origins.app]\ntype = \"http\"\nurl = \"http://127.0.0.1:3000/assets\"\n\
                [[behaviors]]\npath_pattern = \"/app/*\"\norigin = \"app\"\nrestricted = false\n\
                [default_behavior]\norigin = \"bucket\"\nrestricted = false\n";
    let config = load(&d, text).unwrap();
    assert_eq!(config.behaviors.select("/app/x").origin.kind(), "http");
    assert_eq!(config.behaviors.select("/x").origin.kind(), "s3");
    let err = load(
        &d,
        &text.replace("http://127.0.0.1:3000/assets", "https://app.example.com"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("origins.app.url") && err.contains("only http://"),
        "{err}"
    );
    let err = load(&d, &text.replace("prefix = \"site/\"", "prefix = \"../x\""))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("origins.bucket") && err.contains("prefix"),
        "{err}"
    );
}

#[test]
fn files_are_read_with_a_bound() {
    let err = ConfigFile::read(Path::new("/dev/zero")).unwrap_err();
    assert!(
        matches!(
            &err,
            ConfigError::Read(cfsign::input::InputError::TooLarge { .. })
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("the configuration file /dev/zero is larger than 1 MiB (1048576 bytes)"),
        "{err}"
    );
    let d = dir();
    let text =
        format!("{FULL}\n[tls]\ncert_file = \"/dev/zero\"\nkey_file = \"keys/public_key.pem\"\n");
    let err = load(&d, &text).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "tls.cert_file: the TLS certificate file /dev/zero is larger than 1 MiB (1048576 bytes)"
        ),
        "{err}"
    );
}

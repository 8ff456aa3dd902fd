//! Loading and validating configurations.

use std::error::Error as _;
use std::time::Duration;

use super::*;
use crate::cache::TtlPolicy;

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

#[cfg(unix)]
#[test]
fn admin_token_file_is_read_checked_and_listed() {
    use std::os::unix::fs::PermissionsExt as _;

    let d = dir();
    let token = d.dir.path().join("admin-token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let text = FULL.replacen(
        "signature_cache = 10\n",
        "signature_cache = 10\nadmin_listen = \"127.0.0.1:9901\"\nadmin_token_file = \"admin-token\"\n",
        1,
    );
    let config = load(&d, &text).unwrap();
    let loaded = config.admin_token.expect("a token");
    assert!(loaded.matches("0123456789abcdef0123456789abcdef"));
    assert_eq!(loaded.file(), Some(token.as_path()));
    assert!(load(&d, FULL).unwrap().admin_token.is_none());

    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = load(&d, &text).unwrap_err();
    assert!(
        matches!(&err, ConfigError::AdminToken { field, source: crate::admin::AdminTokenError::Exposed { .. } } if field.name() == "admin_token_file"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("admin_token_file: the admin token file"),
        "{err}"
    );

    // an override is used as given, and named as an override
    let overrides = ConfigOverrides {
        admin_token_file: Some(d.dir.path().join("none")),
        ..ConfigOverrides::default()
    };
    let path = d.dir.path().join("edge.toml");
    std::fs::write(&path, &text).unwrap();
    let source = ConfigSource::File(path.clone());
    let err = source.load(&overrides).unwrap_err();
    assert_eq!(err.field(), Some(&Field::Override(Setting::AdminTokenFile)));
    assert!(
        err.reason().contains("cannot read the admin token file"),
        "{err}"
    );

    // the files a watch reads: the configuration, the key, the token
    assert_eq!(
        source.inputs(&ConfigOverrides::default()),
        vec![
            path.clone(),
            d.dir.path().join("keys/public_key.pem"),
            token
        ]
    );
    assert_eq!(
        source.inputs(&overrides),
        vec![
            path.clone(),
            d.dir.path().join("keys/public_key.pem"),
            d.dir.path().join("none")
        ]
    );
    std::fs::write(&path, "[[behaviors]\n").unwrap();
    assert_eq!(source.inputs(&overrides), vec![path]);
}

/// A token without an admin listener guards nothing: refused, naming the
/// field (or the override) and the fix, before the file is read.
#[test]
fn admin_token_file_needs_admin_listen() {
    let d = dir();
    let text = FULL.replacen(
        "signature_cache = 10\n",
        "signature_cache = 10\nadmin_token_file = \"no-such-token\"\n",
        1,
    );
    let err = load(&d, &text).unwrap_err();
    assert!(
        matches!(&err, ConfigError::AdminTokenWithoutListener { field } if *field == Field::File("admin_token_file".into())),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with("admin_token_file: an admin token guards the admin listener's"),
        "{message}"
    );
    assert!(
        message.contains("give admin_listen too") && message.contains("or remove admin_token_file"),
        "{message}"
    );
    assert!(!message.contains("--"), "{message}");

    // as an override: named as one; an admin_listen override satisfies it
    let mut edge = SimpleEdge::new(d.dir.path());
    edge.public = true;
    let mut overrides = ConfigOverrides {
        admin_token_file: Some(d.dir.path().join("no-such-token")),
        ..ConfigOverrides::default()
    };
    let err = (edge.config_file())
        .load_with(Path::new(""), &overrides)
        .unwrap_err();
    assert_eq!(err.field(), Some(&Field::Override(Setting::AdminTokenFile)));
    assert!(err.reason().contains("give admin_listen too"), "{err}");
    overrides.admin_listen = Some("127.0.0.1:9901".parse().unwrap());
    let err = (edge.config_file())
        .load_with(Path::new(""), &overrides)
        .unwrap_err();
    assert!(matches!(err, ConfigError::AdminToken { .. }), "{err:?}");
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

/// The error of loading `FULL` with `from` replaced by `to`.
fn mistake(d: &Dir, from: &str, to: &str) -> ConfigError {
    assert!(FULL.contains(from), "case does not apply: {from}");
    load(d, &FULL.replacen(from, to, 1)).expect_err(to)
}

/// The error's field as written, its message, and its cause.
fn parts(err: &ConfigError) -> (&str, String, Option<&(dyn std::error::Error + 'static)>) {
    let field = err.field().map_or("", Field::name);
    (field, err.to_string(), err.source())
}

/// Checks that `err` is about `field` of the file, says so first, and is whole.
fn about(err: &ConfigError, field: &str) {
    let (name, message, _) = parts(err);
    assert_eq!(name, field, "{message}");
    assert_eq!(err.field(), Some(&Field::File(field.to_owned())));
    assert!(message.starts_with(&format!("{field}: ")), "{message}");
    assert_eq!(message, format!("{field}: {}", err.reason()));
}

fn cause_is<T: std::error::Error + 'static>(err: &ConfigError) -> &T {
    err.source()
        .and_then(|cause| cause.downcast_ref::<T>())
        .unwrap_or_else(|| {
            panic!(
                "the cause of {err:?} is not a {}",
                std::any::type_name::<T>()
            )
        })
}

#[test]
fn top_level_errors_are_typed() {
    let d = dir();
    let err = mistake(
        &d,
        "signature_cache = 10",
        "signature_cache = 10\nsend_timeout = 0",
    );
    assert!(matches!(err, ConfigError::OutOfRange { .. }), "{err:?}");
    about(&err, "send_timeout");
    assert_eq!(
        cause_is::<crate::server::OutOfRange>(&err).to_string(),
        err.reason()
    );
    let err = mistake(
        &d,
        "signature_cache = 10",
        "signature_cache = 10\nlisten_backlog = 70000",
    );
    assert!(matches!(err, ConfigError::OutOfRange { .. }), "{err:?}");
    about(&err, "listen_backlog");

    let err = mistake(&d, "\"10.0.0.0/8\"", "\"10.0.0.0/33\"");
    assert!(
        matches!(&err, ConfigError::TrustedProxy { value, .. } if value == "10.0.0.0/33"),
        "{err:?}"
    );
    about(&err, "trusted_proxies[0]");
    cause_is::<ipnet::AddrParseError>(&err);
    let err = mistake(&d, "\"192.0.2.1\"", "\"192.0.2.x\"");
    about(&err, "trusted_proxies[1]");

    let err = mistake(&d, "https://cdn.example.com/", "cdn.example.com");
    assert!(matches!(err, ConfigError::PublicBaseUrl { .. }), "{err:?}");
    about(&err, "public_base_url");
    assert!(
        err.to_string().contains("\"https://cdn.example.com\""),
        "{err}"
    );

    let err = mistake(
        &d,
        "signature_cache = 10",
        "signature_cache = 10\nviewer_scheme = \"ftp\"",
    );
    assert!(matches!(err, ConfigError::ViewerScheme { .. }), "{err:?}");
    about(&err, "viewer_scheme");

    let err = mistake(
        &d,
        "signature_cache = 10",
        "signature_cache = 10\naccess_log = \"xml\"",
    );
    assert!(matches!(err, ConfigError::AccessLog { .. }), "{err:?}");
    about(&err, "access_log");
    assert!(
        err.to_string().contains("\"text\", \"json\" or \"off\""),
        "{err}"
    );
}

#[test]
fn tls_errors_are_typed() {
    let d = dir();
    let cert = cfsign_testkit::tls::self_signed(&["localhost"]);
    cert.write(d.dir.path(), "good");
    let tls = "[tls]\ncert_file = \"good-cert.pem\"\nkey_file = \"good-key.pem\"\n";
    let config = load(&d, &format!("{FULL}\n{tls}")).unwrap();
    assert!(config.tls.is_some());
    let https = format!("{:?}", config.behaviors.select("/x").access);
    assert!(
        https.contains("scheme: Https"),
        "with [tls], viewers use https: {https}"
    );

    let err = load(
        &d,
        &format!("{FULL}\n{}", tls.replace("good-key.pem", "nope.pem")),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::Tls { .. }), "{err:?}");
    about(&err, "tls.key_file");
    assert!(err.to_string().contains("nope.pem"), "{err}");
    assert_eq!(cause_is::<crate::tls::TlsError>(&err).field(), "key_file");

    let err = load(
        &d,
        &format!("{FULL}\n{}", tls.replace("good-cert.pem", "good-key.pem")),
    )
    .unwrap_err();
    about(&err, "tls.cert_file");

    let err = load(
        &d,
        &format!(
            "{}\n{tls}",
            FULL.replacen(
                "signature_cache = 10",
                "signature_cache = 10\nviewer_scheme = \"http\"",
                1
            )
        ),
    )
    .unwrap_err();
    assert!(matches!(err, ConfigError::HttpWithTls { .. }), "{err:?}");
    about(&err, "viewer_scheme");
}

#[test]
fn cache_errors_are_typed() {
    let d = dir();
    let err = mistake(
        &d,
        "max_object_bytes = 65_536",
        "max_object_bytes = 2_000_000",
    );
    assert!(
        matches!(
            err,
            ConfigError::CacheObjectAboveTotal {
                max_object_bytes: 2_000_000,
                max_bytes: 1_048_576,
                ..
            }
        ),
        "{err:?}"
    );
    about(&err, "cache.max_object_bytes");
    let err = mistake(
        &d,
        "max_bytes = 1_048_576\nmax_object_bytes = 65_536",
        "max_bytes = 10_000_000_000\nmax_object_bytes = 5_000_000_000",
    );
    assert!(
        matches!(err, ConfigError::CacheObjectTooLarge { .. }),
        "{err:?}"
    );
    about(&err, "cache.max_object_bytes");
    // the default object bound does not fit: the size given is the mistake
    let err = mistake(&d, "max_object_bytes = 65_536\n", "");
    assert!(
        matches!(
            err,
            ConfigError::CacheBelowObject {
                max_bytes: 1_048_576,
                max_object_bytes: 8_388_608,
                ..
            }
        ),
        "{err:?}"
    );
    about(&err, "cache.max_bytes");
    assert!(
        err.to_string().contains("raise it to at least 8388608"),
        "{err}"
    );
}

#[test]
fn key_group_errors_are_typed() {
    let d = dir();
    let err = mistake(
        &d,
        "keys = [{ id = \"K2JCJMDEHXQW5F\", public_key = \"keys/public_key.pem\" }]",
        "keys = []",
    );
    assert!(matches!(err, ConfigError::EmptyKeyGroup { .. }), "{err:?}");
    about(&err, "key_groups.main");
    let err = mistake(&d, "id = \"K2JCJMDEHXQW5F\"", "id = \"\"");
    assert!(matches!(err, ConfigError::KeyPairId { .. }), "{err:?}");
    about(&err, "key_groups.main.keys[0].id");
    cause_is::<cfsign::SignError>(&err);
    let err = mistake(&d, "keys/public_key.pem", "keys/missing.pem");
    assert!(matches!(err, ConfigError::PublicKey { .. }), "{err:?}");
    about(&err, "key_groups.main.keys[0].public_key");
    assert!(
        matches!(
            cause_is::<cfsign::KeyError>(&err),
            cfsign::KeyError::Read(_)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

#[test]
fn origin_errors_are_typed() {
    let d = dir();
    let err = mistake(&d, "root = \"media\"", "root = \"nope\"");
    assert!(
        matches!(&err, ConfigError::DirectoryRoot { path, .. } if *path == d.dir.path().join("nope")),
        "{err:?}"
    );
    about(&err, "origins.media.root");
    assert_eq!(
        cause_is::<std::io::Error>(&err).kind(),
        std::io::ErrorKind::NotFound
    );
    let origins = "[origins.media]\ntype = \"directory\"\nroot = \"media\"";
    let err = mistake(
        &d,
        origins,
        &format!("{origins}\n[origins.app]\ntype = \"http\"\nurl = \"https://app.example.com\""),
    );
    assert!(matches!(err, ConfigError::HttpOrigin { .. }), "{err:?}");
    about(&err, "origins.app.url");
    cause_is::<crate::origin::HttpOriginError>(&err);
    let err = mistake(
        &d,
        origins,
        &format!("{origins}\n[origins.b]\ntype = \"s3\"\nbucket = \"media\"\nprefix = \"a/../b\""),
    );
    assert!(matches!(err, ConfigError::S3Origin { .. }), "{err:?}");
    about(&err, "origins.b.prefix");
    cause_is::<crate::origin::s3::S3ConfigError>(&err);
}

/// `profile` in an S3 origin: the AWS SDK's chain reads it (feature `aws-chain`);
/// without the chain it is an error naming the field and the feature.
#[test]
fn s3_origin_profile() {
    let d = dir();
    // A region, so building looks nothing up; no request is made.
    let text = "[origins.bucket]\ntype = \"s3\"\nbucket = \"media\"\nregion = \"eu-west-1\"\n\
                profile = \"media-reader\"\n\
                [default_behavior]\norigin = \"bucket\"\nrestricted = false\n";
    let loaded = load(&d, text);
    if cfg!(feature = "aws-chain") {
        let config = loaded.unwrap();
        assert_eq!(config.behaviors.select("/x").origin.kind(), "s3");
    } else {
        let err = loaded.unwrap_err();
        assert!(matches!(err, ConfigError::S3Origin { .. }), "{err:?}");
        about(&err, "origins.bucket.profile");
        cause_is::<crate::origin::s3::S3ConfigError>(&err);
        let text = err.to_string();
        assert!(
            text.contains("media-reader") && text.contains("aws-chain"),
            "{text}"
        );
    }
}

#[test]
fn behavior_errors_are_typed() {
    let d = dir();
    let err = mistake(&d, "path_pattern = \"*.m3u8\"\n", "");
    assert!(
        matches!(err, ConfigError::MissingPathPattern { .. }),
        "{err:?}"
    );
    about(&err, "behaviors[1].path_pattern");
    let err = mistake(&d, "path_pattern = \"*.m3u8\"", "path_pattern = \"a b\"");
    assert!(matches!(err, ConfigError::PathPattern { .. }), "{err:?}");
    about(&err, "behaviors[1].path_pattern");
    cause_is::<crate::behavior::PatternError>(&err);
    let default = "[default_behavior]\norigin = \"media\"";
    let err = mistake(
        &d,
        default,
        "[default_behavior]\npath_pattern = \"*\"\norigin = \"media\"",
    );
    assert!(
        matches!(err, ConfigError::DefaultPathPattern { .. }),
        "{err:?}"
    );
    about(&err, "default_behavior.path_pattern");
    let err = mistake(
        &d,
        "origin = \"media\"\nrestricted = false",
        "origin = \"nope\"\nrestricted = false",
    );
    assert!(
        matches!(&err, ConfigError::UnknownOrigin { name, defined, .. } if name == "nope" && *defined == ["media"]),
        "{err:?}"
    );
    about(&err, "behaviors[0].origin");
    let err = mistake(
        &d,
        "trusted_key_groups = [\"main\"]\nmin_ttl",
        "trusted_key_groups = [\"other\"]\nmin_ttl",
    );
    assert!(
        matches!(err, ConfigError::UnknownKeyGroup { .. }),
        "{err:?}"
    );
    about(&err, "behaviors[1].trusted_key_groups");
    let err = mistake(
        &d,
        "[default_behavior]\norigin = \"media\"\ntrusted_key_groups = [\"main\"]",
        default,
    );
    assert!(
        matches!(err, ConfigError::NoTrustedKeyGroups { .. }),
        "{err:?}"
    );
    about(&err, "default_behavior");
    let err = mistake(&d, default, &format!("{default}\nrestricted = false"));
    assert!(
        matches!(err, ConfigError::UnrestrictedWithKeyGroups { .. }),
        "{err:?}"
    );
    about(&err, "default_behavior");
    let err = mistake(&d, "default_ttl = 2", "default_ttl = 9");
    assert!(matches!(err, ConfigError::Ttl { .. }), "{err:?}");
    about(&err, "behaviors[1]");
    cause_is::<crate::cache::TtlError>(&err);
}

#[test]
fn syntax_errors_keep_the_parser_error_and_its_position() {
    let d = dir();
    let err = mistake(
        &d,
        "signature_cache = 10",
        "signature_cache = 10\ncolour = \"blue\"",
    );
    let ConfigError::Syntax(syntax) = &err else {
        panic!("{err:?}");
    };
    assert_eq!((syntax.line, syntax.column), (Some(6), Some(1)));
    assert_eq!(syntax.path, d.dir.path().join("edge.toml"));
    assert!(err.field().is_none());
    assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    cause_is::<toml::de::Error>(&err);
    let err = load(&d, "listen = \n").unwrap_err();
    assert!(
        matches!(&err, ConfigError::Syntax(e) if e.line == Some(1)),
        "{err:?}"
    );
}

#[test]
fn compress_is_read_per_behavior() {
    let d = dir();
    let config = load(&d, FULL).unwrap();
    assert!(
        config.behaviors.iter().all(|b| !b.compress),
        "off by default"
    );
    let text = FULL
        .replacen(
            "restricted = false",
            "restricted = false\ncompress = true",
            1,
        )
        .replacen(
            "[default_behavior]\norigin = \"media\"",
            "[default_behavior]\norigin = \"media\"\ncompress = true",
            1,
        );
    let config = load(&d, &text).unwrap();
    let b = &config.behaviors;
    assert!(b.select("/public/a").compress);
    assert!(!b.select("/x/a.m3u8").compress);
    assert!(b.select("/other").compress);
    let err = mistake(
        &d,
        "restricted = false",
        "restricted = false\ncompress = \"yes\"",
    );
    assert!(matches!(err, ConfigError::Syntax(_)), "{err:?}");
}

#[test]
fn sign_manifests_is_read_per_restricted_behavior() {
    let d = dir();
    let config = load(&d, FULL).unwrap();
    assert!(
        config.behaviors.iter().all(|b| !b.sign_manifests),
        "off by default"
    );
    let text = FULL.replacen(
        "trusted_key_groups = [\"main\"]\nmin_ttl = 1",
        "trusted_key_groups = [\"main\"]\nsign_manifests = true\nmin_ttl = 1",
        1,
    );
    let config = load(&d, &text).unwrap();
    assert!(config.behaviors.select("/x/a.m3u8").sign_manifests);
    assert!(!config.behaviors.select("/public/a.m3u8").sign_manifests);
    let err = mistake(
        &d,
        "restricted = false",
        "restricted = false\nsign_manifests = true",
    );
    assert!(
        matches!(&err, ConfigError::SignManifestsUnrestricted { field } if field.to_string() == "behaviors[0]"),
        "{err:?}"
    );
    assert!(err.to_string().contains("needs restricted = true"), "{err}");
}

/// Every file setting that an override replaces, set in the file.
const SETTINGS: &str = "listen_backlog = 64\nsend_timeout = 5\nadmin_listen = \"127.0.0.1:9901\"\n\
                        access_log = \"json\"\naccess_log_file = \"logs/access.log\"\n";

#[test]
fn overrides_win_over_the_file() {
    let d = dir();
    let path = d.dir.path().join("edge.toml");
    let cert = cfsign_testkit::tls::self_signed(&["localhost"]);
    let (cert_file, key_file) = cert.write(d.dir.path(), "flag");
    let text = FULL.replacen(
        "signature_cache = 10\n",
        &format!("signature_cache = 10\n{SETTINGS}"),
        1,
    );
    std::fs::write(&path, &text).unwrap();
    let source = ConfigSource::File(path.clone());
    let from_file = source.load(&ConfigOverrides::default()).unwrap();
    assert_eq!(
        (
            from_file.listen_backlog,
            from_file.send_timeout.as_secs(),
            from_file.access_log
        ),
        (64, 5, Some(AccessLogFormat::Json))
    );
    let overrides = ConfigOverrides {
        listen: Some("127.0.0.1:7000".parse().unwrap()),
        listen_backlog: Some(128),
        send_timeout: Some(60),
        tls: Some(TlsFile {
            cert_file: cert_file.clone(),
            key_file,
        }),
        public_base_url: Some("https://media.example.org".to_owned()),
        trusted_proxies: Some(vec!["172.16.0.0/12".to_owned()]),
        admin_listen: Some("127.0.0.1:9902".parse().unwrap()),
        admin_token_file: None,
        access_log: Some("off".to_owned()),
        access_log_file: Some(PathBuf::from("relative.log")),
        cache_max_bytes: Some(0),
    };
    let check = |config: &EdgeConfig| {
        assert_eq!(config.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(config.listen_backlog, 128);
        assert_eq!(config.send_timeout, Duration::from_secs(60));
        assert_eq!(
            config.tls.as_ref().map(|t| t.cert_file().to_owned()),
            Some(cert_file.clone())
        );
        assert_eq!(config.admin_listen, Some("127.0.0.1:9902".parse().unwrap()));
        assert_eq!(config.access_log, None);
        assert_eq!(
            config.access_log_file,
            Some(PathBuf::from("relative.log")),
            "used as given"
        );
        assert_eq!(config.cache, None);
        let access = format!("{:?}", config.behaviors.select("/x").access);
        assert!(
            access.contains("scheme: Https")
                && access.contains("public_base_url: Some(\"https://media.example.org\")")
                && access.contains("172.16.0.0/12")
                && !access.contains("10.0.0.0/8"),
            "{access}"
        );
    };
    check(&source.load(&overrides).unwrap());
    // a reload reads the file again and applies the same overrides
    std::fs::write(&path, text.replace("send_timeout = 5", "send_timeout = 7")).unwrap();
    check(&source.load(&overrides).unwrap());
    assert_eq!(
        source
            .load(&ConfigOverrides::default())
            .unwrap()
            .send_timeout
            .as_secs(),
        7
    );
}

#[test]
fn override_errors_name_the_override() {
    let d = dir();
    let load_with = |overrides: ConfigOverrides| {
        let path = d.dir.path().join("edge.toml");
        std::fs::write(&path, FULL).unwrap();
        ConfigSource::File(path).load(&overrides).unwrap_err()
    };
    let cases: Vec<(ConfigOverrides, Setting, &str)> = vec![
        (
            ConfigOverrides {
                send_timeout: Some(0),
                ..ConfigOverrides::default()
            },
            Setting::SendTimeout,
            "0 is not between 1 and 3600 seconds; leave it out for the default, 30 seconds",
        ),
        (
            ConfigOverrides {
                listen_backlog: Some(0),
                ..ConfigOverrides::default()
            },
            Setting::ListenBacklog,
            "0 is not between 1 and 65535; leave it out for the default, 511",
        ),
        (
            ConfigOverrides {
                access_log: Some("xml".into()),
                ..ConfigOverrides::default()
            },
            Setting::AccessLog,
            "\"xml\" is not \"text\", \"json\" or \"off\"",
        ),
        (
            ConfigOverrides {
                public_base_url: Some("https://a/b".into()),
                ..ConfigOverrides::default()
            },
            Setting::PublicBaseUrl,
            "\"https://a/b\" must be a scheme and host only",
        ),
        (
            ConfigOverrides {
                trusted_proxies: Some(vec!["nope".into()]),
                ..ConfigOverrides::default()
            },
            Setting::TrustedProxies,
            "\"nope\" is not an IP address or CIDR range",
        ),
        (
            ConfigOverrides {
                tls: Some(TlsFile {
                    cert_file: "missing-cert.pem".into(),
                    key_file: "missing-key.pem".into(),
                }),
                ..ConfigOverrides::default()
            },
            Setting::TlsCertFile,
            "cannot read the TLS certificate file missing-cert.pem",
        ),
    ];
    for (overrides, setting, reason) in cases {
        let err = load_with(overrides);
        assert_eq!(err.field(), Some(&Field::Override(setting)), "{err:?}");
        assert!(
            err.reason().starts_with(reason),
            "{setting:?}: {}",
            err.reason()
        );
        assert_eq!(
            err.to_string(),
            format!("{} (override): {}", setting.field(), err.reason())
        );
    }
    // both bounds given: the object bound is named, as with the file alone
    let err = load_with(ConfigOverrides {
        cache_max_bytes: Some(1_000),
        ..ConfigOverrides::default()
    });
    assert!(
        matches!(
            err,
            ConfigError::CacheObjectAboveTotal {
                max_bytes: 1_000,
                ..
            }
        ),
        "{err:?}"
    );
    about(&err, "cache.max_object_bytes");
    // the object bound left to its default: the cache size given is the mistake
    let mut simple = SimpleEdge::new(d.dir.path());
    simple.public = true;
    let err = ConfigSource::Simple(simple)
        .load(&ConfigOverrides {
            cache_max_bytes: Some(1_000),
            ..ConfigOverrides::default()
        })
        .unwrap_err();
    assert!(
        matches!(err, ConfigError::CacheBelowObject { .. }),
        "{err:?}"
    );
    assert_eq!(err.field(), Some(&Field::Override(Setting::CacheMaxBytes)));
}

#[test]
fn a_simple_edge_is_its_equivalent_file() {
    let d = dir();
    let key = KeyFile {
        id: "K2JCJMDEHXQW5F".to_owned(),
        public_key: d.dir.path().join("keys/public_key.pem"),
    };
    let summary = |config: &EdgeConfig| -> Vec<String> {
        config
            .behaviors
            .iter()
            .map(|b| {
                format!(
                    "{b:?} {:?} {} compress={}",
                    b.access,
                    b.origin.kind(),
                    b.compress
                )
            })
            .collect()
    };
    let mut simple = SimpleEdge::new(d.dir.path().join("media"));
    simple.keys.push(key.clone());
    simple.default_ttl = Some(5);
    let equivalent = "[key_groups.keys]\nkeys = [{ id = \"K2JCJMDEHXQW5F\", public_key = \"keys/public_key.pem\" }]\n\
         [origins.root]\ntype = \"directory\"\nroot = \"media\"\n\
         [default_behavior]\norigin = \"root\"\ntrusted_key_groups = [\"keys\"]\ndefault_ttl = 5\n";
    let overrides = ConfigOverrides {
        public_base_url: Some("https://cdn.example.com".into()),
        cache_max_bytes: Some(1 << 30),
        ..ConfigOverrides::default()
    };
    let from_simple = ConfigSource::Simple(simple.clone())
        .load(&overrides)
        .unwrap();
    let path = d.dir.path().join("edge.toml");
    std::fs::write(&path, equivalent).unwrap();
    let from_file = ConfigSource::File(path).load(&overrides).unwrap();
    assert_eq!(summary(&from_simple), summary(&from_file));
    assert!(
        summary(&from_simple)[0].contains("K2JCJMDEHXQW5F"),
        "{:?}",
        summary(&from_simple)
    );
    assert_eq!(from_simple.cache, from_file.cache);
    assert_eq!(from_simple.cache.map(|c| c.max_bytes), Some(1 << 30));

    let public = SimpleEdge {
        public: true,
        keys: Vec::new(),
        ..simple.clone()
    };
    let config = public.config_file().load(d.dir.path()).unwrap();
    assert!(config.behaviors.select("/a").access.is_none());
    // errors name the equivalent file's fields
    let missing = SimpleEdge {
        root: d.dir.path().join("nope"),
        ..simple.clone()
    };
    let err = ConfigSource::Simple(missing)
        .load(&ConfigOverrides::default())
        .unwrap_err();
    about(&err, "origins.root.root");
    let no_key = SimpleEdge {
        keys: Vec::new(),
        ..simple.clone()
    };
    let err = no_key.config_file().load(d.dir.path()).unwrap_err();
    assert!(
        matches!(err, ConfigError::NoTrustedKeyGroups { .. }),
        "{err:?}"
    );
    let both = SimpleEdge {
        public: true,
        ..simple
    };
    let err = both.config_file().load(d.dir.path()).unwrap_err();
    assert!(
        matches!(err, ConfigError::UnrestrictedWithKeyGroups { .. }),
        "{err:?}"
    );
}

#[test]
fn the_default_listen_address_is_the_documented_one() {
    assert_eq!(top::DEFAULT_LISTEN_ADDR.to_string(), DEFAULT_LISTEN);
}

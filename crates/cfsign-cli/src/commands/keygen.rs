//! `cfsign keygen`: a key pair for CloudFront.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use cfsign::{KeyType, PrivateKey};

use crate::cli::{KeyTypeArg, KeygenArgs};

pub(crate) fn key_type(arg: KeyTypeArg) -> KeyType {
    match arg {
        KeyTypeArg::Rsa => KeyType::Rsa2048,
        KeyTypeArg::Ecdsa => KeyType::EcdsaP256,
    }
}

/// Where the key-pair ID comes from (keygen and quickstart --json).
pub(crate) const KEY_PAIR_ID_HINT: &str = "CloudFront gives the ID when the public key file is \
    uploaded (console: Key management > Public keys, or aws cloudfront create-public-key); sign \
    with --key-pair-id THAT-ID";

pub(crate) fn run(args: &KeygenArgs) -> Result<()> {
    let key_type = key_type(args.key_type);
    let (private_path, public_path) = write_key_pair(&args.out, key_type, args.force)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = serde_json::json!({
            "private_key_file": private_path.display().to_string(),
            "public_key_file": public_path.display().to_string(),
            "key_type": key_type.to_string(),
            "key_pair_id": serde_json::Value::Null,
            "key_pair_id_hint": KEY_PAIR_ID_HINT,
        });
        writeln!(out, "{}", crate::commands::with_schema(value)).context("writing to stdout")?;
        return Ok(());
    }
    writeln!(
        out,
        "Generated an {key_type} key pair:\n  {}  private key, mode 0600: keep it secret (a secret store, not git)\n  {}  public key (SubjectPublicKeyInfo PEM)\n\nNext steps:\n  1. CloudFront console > Key management > Public keys > Create public key: paste {}\n     (or: aws cloudfront create-public-key ...). Note the ID it gets, e.g. K2JCJMDEHXQW5F.\n  2. Key groups > Create key group with that public key.\n  3. On the distribution's cache behavior: Restrict viewer access > Trusted key groups > your group.\n  4. Sign: cfsign url 'https://YOUR-DOMAIN/path/file' --key-pair-id THAT-ID --private-key {} --expires-in 1h",
        private_path.display(),
        public_path.display(),
        public_path.display(),
        private_path.display(),
    )
    .context("writing to stdout")?;
    Ok(())
}

/// The flags the messages of [`write_key_pair_with`] name.
struct Flags {
    /// The flag that gave `dir` (`--out`, `--generate-key`).
    dir: &'static str,
    /// The flag that allows replacing existing files, if the command has one.
    force: Option<&'static str>,
}

/// Writes `private_key.pem` (0600, refusing to overwrite unless `force`) and
/// `public_key.pem` into `dir` (given by `--out`).
pub(crate) fn write_key_pair(
    dir: &Path,
    key_type: KeyType,
    force: bool,
) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let flags = Flags {
        dir: "--out",
        force: Some("--force"),
    };
    write_key_pair_with(dir, key_type, force, &flags)
}

/// [`write_key_pair`] for `cfsign aws ... --generate-key DIR`, which never replaces
/// a file: the messages name `--generate-key`.
#[cfg(feature = "aws")]
pub(crate) fn write_generated_key_pair(
    dir: &Path,
    key_type: KeyType,
) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let flags = Flags {
        dir: "--generate-key",
        force: None,
    };
    write_key_pair_with(dir, key_type, false, &flags)
}

fn write_key_pair_with(
    dir: &Path,
    key_type: KeyType,
    force: bool,
    flags: &Flags,
) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let private_path = dir.join("private_key.pem");
    let public_path = dir.join("public_key.pem");
    if !force {
        for p in [&private_path, &public_path] {
            if p.exists() {
                match flags.force {
                    Some(force) => bail!(
                        "{} already exists; pass {force} to replace it, or {} another folder",
                        p.display(),
                        flags.dir
                    ),
                    None => bail!(
                        "{} already exists; choose another {} DIR (or delete {})",
                        p.display(),
                        flags.dir,
                        p.display()
                    ),
                }
            }
        }
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create {}", flags.dir, dir.display()))?;
    let key = PrivateKey::generate(key_type)?;
    let private_pem = key.to_pkcs8_pem()?;
    let public_pem = key.public_key()?.to_pem()?;
    write_file(&private_path, private_pem.as_bytes(), 0o600, force)?;
    write_file(&public_path, public_pem.as_bytes(), 0o644, force)?;
    Ok((private_path, public_path))
}

fn write_file(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<()> {
    if replace && path.exists() {
        // Remove first so the new file gets `mode` even if the old one was wider.
        std::fs::remove_file(path).with_context(|| format!("cannot replace {}", path.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

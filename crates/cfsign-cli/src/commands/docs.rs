//! `cfsign completions SHELL` and the hidden `cfsign manpages DIR`: generated
//! from the same clap definition as the parser.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use clap::CommandFactory as _;

use crate::cli::{Cli, CompletionsArgs, ManpagesArgs};

/// Prints the completion script for `args.shell` to stdout.
pub(crate) fn completions(args: &CompletionsArgs) -> Result<()> {
    let mut cmd = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "cfsign", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

/// Writes `cfsign.1` and one page per visible subcommand, nested ones included
/// (`cfsign-edge-invalidate.1`), into `args.dir`, each mode 0644.
pub(crate) fn manpages(args: &ManpagesArgs) -> Result<()> {
    let dir = &args.dir;
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!(
            "{} exists and is not a directory: give a directory for the man pages",
            dir.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the directory {}", dir.display()))?,
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write_pages(cmd, dir, &mut written)?;
    let mut out = std::io::stdout().lock();
    for path in written {
        writeln!(out, "{}", path.display()).context("writing to stdout")?;
    }
    Ok(())
}

/// The page of `cmd`, then those of its visible subcommands, depth first.
fn write_pages(
    cmd: clap::Command,
    dir: &Path,
    written: &mut Vec<std::path::PathBuf>,
) -> Result<()> {
    let subcommands: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    // The footer names the program, not the subcommand (`doctor 0.1.0`).
    let man = clap_mangen::Man::new(cmd).source(format!("cfsign {}", crate::cli::VERSION));
    let path = dir.join(man.get_filename());
    let mut roff = Vec::new();
    man.render(&mut roff)
        .with_context(|| format!("rendering {}", path.display()))?;
    write_0644(&path, &roff)?;
    written.push(path);
    for sub in subcommands {
        write_pages(sub, dir, written)?;
    }
    Ok(())
}

/// Writes `bytes` to `path`, replacing it, readable by everyone (0644 whatever the umask).
fn write_0644(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("setting the mode of {}", path.display()))?;
    }
    Ok(())
}

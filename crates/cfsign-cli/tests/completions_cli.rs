//! `cfsign completions SHELL` and the hidden `cfsign manpages DIR`, run for real.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::Path;
use std::process::Command;

use cfsign_testkit::cli;

/// The binary, without the test's own `CFSIGN_*` variables.
fn cfsign() -> Command {
    cli::command(env!("CARGO_BIN_EXE_cfsign"))
}

/// Runs and returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    cli::run(cfsign().args(args))
}

/// Whether `program` can be started (`--version` or similar succeeds).
fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let (code, script, err) = run(&["completions", shell]);
        assert_eq!((code, err.as_str()), (0, ""), "{shell}");
        assert!(!script.trim().is_empty(), "{shell}: empty script");
        for sub in [
            "url",
            "manifest",
            "edge",
            "invalidate",
            "keygen",
            "completions",
        ] {
            assert!(script.contains(sub), "{shell}: {sub} missing");
        }
    }
    let (code, _, err) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(err.contains("bash"), "{err}");
}

#[test]
fn bash_completion_script_is_valid_and_defines_its_function() {
    let (code, script, err) = run(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cfsign.bash");
    std::fs::write(&file, &script).unwrap();
    let file = file.to_str().unwrap();

    let (code, _, err) = cli::run(Command::new("bash").args(["-n", file]));
    assert_eq!(code, 0, "bash -n refuses the script: {err}");

    let probe = format!("source '{file}' && declare -F _cfsign && complete -p cfsign");
    let (code, out, err) = cli::run(Command::new("bash").args(["-c", &probe]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("_cfsign\n"), "{out}");
    assert!(
        out.contains("-F _cfsign") && out.trim_end().ends_with(" cfsign"),
        "{out}"
    );

    // The function completes subcommands: what `cfsign ed<TAB>` offers.
    let probe = format!(
        "source '{file}' && COMP_WORDS=(cfsign ed) && COMP_CWORD=1 && COMP_LINE='cfsign ed' && \
         COMP_POINT=9 && _cfsign cfsign ed cfsign && printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let (code, out, err) = cli::run(Command::new("bash").args(["-c", &probe]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "edge", "{err}");
}

/// The page names `cfsign manpages` must write, from the commands of this build.
fn expected_pages() -> Vec<&'static str> {
    let mut pages = vec![
        "cfsign.1",
        "cfsign-url.1",
        "cfsign-cookies.1",
        "cfsign-policy.1",
        "cfsign-keygen.1",
        "cfsign-batch.1",
        "cfsign-manifest.1",
        "cfsign-verify.1",
        "cfsign-explain.1",
        "cfsign-inspect.1",
        "cfsign-quickstart.1",
        "cfsign-edge.1",
        "cfsign-edge-invalidate.1",
        "cfsign-completions.1",
    ];
    if cfg!(feature = "aws") {
        pages.extend([
            "cfsign-aws.1",
            "cfsign-aws-setup.1",
            "cfsign-aws-keys.1",
            "cfsign-aws-keys-list.1",
            "cfsign-aws-keys-add.1",
            "cfsign-aws-keys-rotate.1",
            "cfsign-aws-keys-retire.1",
            "cfsign-aws-doctor.1",
        ]);
    }
    pages
}

/// Renders a man page as `man -l`, or `groff -man` when man is missing; `None`
/// when neither is installed.
fn render(page: &Path) -> Option<(i32, String, String)> {
    let page = page.to_str().unwrap();
    if have("man", "--version") {
        return Some(cli::run(
            Command::new("man")
                .args(["-l", page])
                .env("MANPAGER", "cat")
                .env("PAGER", "cat"),
        ));
    }
    if have("groff", "--version") {
        return Some(cli::run(
            Command::new("groff").args(["-man", "-Tutf8", "-ww", page]),
        ));
    }
    None
}

#[test]
fn manpages_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man/man1");
    let (code, stdout, err) = run(&["manpages", out.to_str().unwrap()]);
    assert_eq!((code, err.as_str()), (0, ""));

    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    let mut expected: Vec<String> = expected_pages().into_iter().map(str::to_owned).collect();
    expected.sort();
    assert_eq!(written, expected);
    // stdout lists each page written
    assert_eq!(stdout.lines().count(), expected.len(), "{stdout}");

    for name in &written {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(out.join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o644, "{name}");
        }
        let roff = std::fs::read_to_string(out.join(name)).unwrap();
        let title = format!(".TH {} 1 ", name.strip_suffix(".1").unwrap());
        assert!(
            roff.lines().any(|l| l.starts_with(&title)),
            "{name}: {roff}"
        );
    }

    let main = std::fs::read_to_string(out.join("cfsign.1")).unwrap();
    for sub in ["url", "manifest", "edge", "completions"] {
        assert!(
            main.contains(&format!("cfsign\\-{sub}(1)")),
            "cfsign.1 lacks {sub}:\n{main}"
        );
    }
    assert!(
        !main.contains("manpages"),
        "the hidden command is documented:\n{main}"
    );
    let nested = std::fs::read_to_string(out.join("cfsign-edge-invalidate.1")).unwrap();
    assert!(nested.contains("\\-\\-admin"), "{nested}");

    // A renderer reads every page without complaint, or the roff is at least well started.
    match render(&out.join("cfsign.1")) {
        Some((code, text, err)) => {
            assert_eq!(code, 0, "rendering cfsign.1: {err}");
            assert!(err.trim().is_empty(), "rendering cfsign.1 warned: {err}");
            assert!(
                text.contains("cfsign") && text.contains("manifest"),
                "{text}"
            );
        }
        None => {
            eprintln!("neither man nor groff is installed: checking the roff text only");
            // after clap_mangen's two-line preamble (the apostrophe string)
            let first_macro = main
                .lines()
                .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"));
            assert!(
                first_macro.unwrap_or("").starts_with(".TH cfsign 1 "),
                "{main}"
            );
            assert!(main.contains(".SH SUBCOMMANDS"), "{main}");
        }
    }
}

#[test]
fn manpages_replaces_pages_and_refuses_a_file() {
    let dir = tempfile::tempdir().unwrap();
    // An existing directory is fine, and an existing page is replaced, 0644 again.
    let page = dir.path().join("cfsign.1");
    std::fs::write(&page, "old").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&page, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (code, _, err) = run(&["manpages", dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains("\n.TH cfsign 1 ")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&page).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let (code, stdout, err) = run(&["manpages", file.to_str().unwrap()]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        err.contains("not a directory") && err.contains("not-a-dir"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn manpages_is_hidden_from_help() {
    let (code, help, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(help.contains("completions"), "{help}");
    assert!(!help.contains("manpages"), "{help}");
}

//! The manual pages, generated from the command-line definitions: one page
//! for `keepalive` and one per subcommand (clap_mangen), and
//! `keepalive-run.1` from keepalive-run's own help text, so that no page
//! can drift from what the programs accept.
//!
//! `keepalive generate-man DIR` (hidden) writes them; `make build` stages
//! them into `share/man/man1`, and a test compares the staged pages with a
//! fresh generation.

use std::path::Path;

use roff::{bold, roman, Roff};

use crate::fail::Failure;

/// Writes every page into `dir` (created if missing).
pub fn generate(cmd: clap::Command, dir: &Path) -> Result<(), Failure> {
    let io =
        |what: &str, e: std::io::Error| Failure::Refused(format!("{what} {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(|e| io("creating", e))?;
    let cmd = cmd.bin_name("keepalive");
    clap_mangen::generate_to(cmd, dir).map_err(|e| io("writing pages into", e))?;
    // `keepalive run` is keepalive-run under another name: its page (which
    // clap would make from a bare ARGS) is keepalive-run's whole help text.
    std::fs::write(dir.join("keepalive-run.1"), keepalive_run_page())
        .map_err(|e| io("writing keepalive-run.1 into", e))
}

/// keepalive-run(1): its help text (the one definition of its options) as
/// a preformatted DESCRIPTION, with NAME and SYNOPSIS for man and apropos.
fn keepalive_run_page() -> String {
    let help = keepalive_run::help_text("keepalive-run");
    let mut lines = help.lines();
    let usage = lines.next().unwrap_or_default();
    let synopsis = usage.strip_prefix("usage: ").unwrap_or(usage);
    let mut page = Roff::new();
    page.control("TH", ["keepalive-run", "1"])
        .control("SH", ["NAME"])
        .text([roman(
            "keepalive-run - run a program with TCP keepalive on every socket it creates \
             (LD_PRELOAD); also `keepalive run`",
        )])
        .control("SH", ["SYNOPSIS"])
        .text([bold(synopsis)])
        .control("SH", ["DESCRIPTION"])
        .control("nf", []);
    for line in lines.skip_while(|l| l.is_empty()) {
        page.text([roman(line)]);
    }
    page.control("fi", []);
    page.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pages_cover_every_subcommand_and_keepalive_run() {
        let dir = std::env::temp_dir().join(format!("keepalive-man-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        use clap::CommandFactory;
        generate(crate::cli::Cli::command(), &dir).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for page in [
            "keepalive.1",
            "keepalive-show.1",
            "keepalive-set.1",
            "keepalive-cgroup-attach.1",
            "keepalive-defaults-set.1",
            "keepalive-run.1",
        ] {
            assert!(names.iter().any(|n| n == page), "{page} missing: {names:?}");
        }
        assert!(
            !names.iter().any(|n| n.contains("generate-man")),
            "the hidden generator has a page: {names:?}"
        );
        let set = std::fs::read_to_string(dir.join("keepalive-set.1")).unwrap();
        assert!(set.contains("TCP_KEEPIDLE"), "{set}");
        let run = std::fs::read_to_string(dir.join("keepalive-run.1")).unwrap();
        assert!(run.contains("\n.TH keepalive-run 1\n"), "{run}");
        assert!(run.contains("\\-\\-deadline"), "{run}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

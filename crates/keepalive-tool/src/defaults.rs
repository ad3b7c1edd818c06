//! `keepalive defaults [--json]` and `keepalive defaults set [-d] [-i] [-c]
//! [--persist]`: this network namespace's `tcp_keepalive_{time,intvl,probes}`,
//! read and written through the core (`system_defaults`,
//! `set_system_defaults`), and made to survive a reboot in
//! `/etc/sysctl.d/60-keepalive.conf`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use keepalive::Config;
use serde::Serialize;

use crate::fail::{self, Failure};
use crate::fmt;
use crate::procfs;

/// Where `--persist` writes unless `KEEPALIVE_SYSCTL_DIR` names another
/// directory (for tests).
pub const SYSCTL_DIR: &str = "/etc/sysctl.d";
/// The variable that names another directory for `--persist`.
pub const SYSCTL_DIR_VAR: &str = "KEEPALIVE_SYSCTL_DIR";
/// The file `--persist` writes; `60-` sorts after the distribution's own.
pub const FILE_NAME: &str = "60-keepalive.conf";
/// How our file begins; a file of that name that does not is someone
/// else's and is never replaced.
pub const HEADER: &str = "# Written by `keepalive defaults set --persist` (libkeepalive).";

/// The three sysctls, in the order idle, interval, count.
pub const SYSCTLS: [&str; 3] = [
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// The defaults as integers: seconds, seconds, probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Values {
    idle: u64,
    interval: u64,
    count: u32,
    dead_after: Duration,
}

fn read() -> Result<Values, Failure> {
    let d = keepalive::system_defaults().map_err(|e| {
        Failure::Refused(format!(
            "cannot read this network namespace's keepalive defaults: {e}"
        ))
    })?;
    Ok(Values {
        idle: d.idle.map_or(0, |d| d.as_secs()),
        interval: d.interval.map_or(0, |d| d.as_secs()),
        count: d.count.unwrap_or(0),
        dead_after: d.dead_after().unwrap_or_default(),
    })
}

/// `keepalive defaults --json`: one object.
#[derive(Debug, Serialize)]
struct Json {
    /// `net.ipv4.tcp_keepalive_time`, seconds.
    idle: u64,
    /// `net.ipv4.tcp_keepalive_intvl`, seconds.
    interval: u64,
    /// `net.ipv4.tcp_keepalive_probes`.
    count: u32,
    /// idle + interval × count, in milliseconds.
    dead_after_ms: u64,
    /// The network namespace they belong to (`net:[4026531840]`).
    netns: Option<String>,
}

/// Runs `keepalive defaults`.
pub fn show(json: bool) -> Result<(), Failure> {
    let v = read()?;
    let netns = procfs::own_netns();
    if json {
        let j = Json {
            idle: v.idle,
            interval: v.interval,
            count: v.count,
            dead_after_ms: fmt::ms(v.dead_after),
            netns,
        };
        say!(
            "{}",
            serde_json::to_string_pretty(&j).expect("plain data serializes")
        );
        return Ok(());
    }
    let ns = netns.map(|n| format!(" ({n})")).unwrap_or_default();
    say!("TCP keepalive defaults of this network namespace{ns}:");
    let rows = [
        (
            SYSCTLS[0],
            v.idle.to_string(),
            "seconds idle, then the first probe",
        ),
        (
            SYSCTLS[1],
            v.interval.to_string(),
            "seconds between unanswered probes",
        ),
        (
            SYSCTLS[2],
            v.count.to_string(),
            "unanswered probes, then dead",
        ),
    ];
    for (name, value, meaning) in rows {
        say!("  {name:<29} = {value:<5}  {meaning}");
    }
    let meaning = format!(
        "A socket that turns keepalive on (SO_KEEPALIVE) without values of its own is declared \
         dead idle + interval x count = {} + {} x {} = {} after its peer goes silent. They \
         change nothing for sockets that never turn SO_KEEPALIVE on, nor for those that set \
         their own values (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT).",
        v.idle,
        v.interval,
        v.count,
        fmt::with_words(v.dead_after)
    );
    for line in fmt::wrap(&meaning, 78) {
        say!("{line}");
    }
    say!("Change them: keepalive defaults set [-d IDLE] [-i INTVL] [-c CNT] [--persist]");
    Ok(())
}

/// The directory `--persist` writes into.
pub fn sysctl_dir() -> PathBuf {
    std::env::var_os(SYSCTL_DIR_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SYSCTL_DIR))
}

/// Whether `text` is a file we wrote.
pub fn is_ours(text: &str) -> bool {
    text.lines().next() == Some(HEADER)
}

/// The file's content for these values.
fn content(v: &Values) -> String {
    format!(
        "{HEADER}\n\
         # `keepalive defaults set --persist` replaces this file; `sysctl --system` applies it\n\
         # at boot. Sockets that turn SO_KEEPALIVE on without values of their own are declared\n\
         # dead idle + interval x count = {} s after their peer goes silent.\n\
         {} = {}\n{} = {}\n{} = {}\n",
        v.dead_after.as_secs(),
        SYSCTLS[0],
        v.idle,
        SYSCTLS[1],
        v.interval,
        SYSCTLS[2],
        v.count
    )
}

/// Refuses, before anything changes, a directory that is missing or a file
/// of our name that someone else wrote.
fn check_persist_target(dir: &Path) -> Result<PathBuf, Failure> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Failure::Refused(format!(
                "--persist: {} is not a directory; nothing was changed",
                dir.display()
            )))
        }
        Err(e) => {
            return Err(Failure::Refused(format!(
            "--persist: {}: {e}; sysctl --system reads /etc/sysctl.d (procps); nothing was changed",
            dir.display()
        )))
        }
    }
    let path = dir.join(FILE_NAME);
    match fs::read_to_string(&path) {
        Ok(text) if is_ours(&text) => Ok(path),
        Ok(_) => Err(Failure::Refused(format!(
            "--persist: {} exists and was not written by keepalive (its first line is not \
             {HEADER:?}): not replacing it; remove it or put the values in it yourself; \
             nothing was changed",
            path.display()
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path),
        Err(e) => Err(Failure::Refused(format!(
            "--persist: {}: {e}; nothing was changed",
            path.display()
        ))),
    }
}

/// Writes `text` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, then renamed over the old one.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let result = (|| {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename itself, on disk.
        fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The core's refusal, with what is needed.
fn refused(err: keepalive::Error) -> Failure {
    let needs = match &err {
        keepalive::Error::Os { source, .. }
            if matches!(source.raw_os_error(), Some(libc::EACCES | libc::EPERM)) =>
        {
            ": changing the defaults needs root (CAP_NET_ADMIN in this network namespace)"
        }
        _ => "",
    };
    Failure::Refused(format!("refused: {err}{needs}; nothing was changed"))
}

/// Runs `keepalive defaults set`.
pub fn set(
    idle: Option<i64>,
    interval: Option<i64>,
    count: Option<i64>,
    persist: bool,
) -> Result<(), Failure> {
    let config = Config::from_secs(idle, interval, count).map_err(fail::invalid)?;
    if config == Config::new() {
        return Err(Failure::Usage(
            "nothing to set: give at least one of -d, -i, -c".into(),
        ));
    }
    let file = if persist {
        Some(check_persist_target(&sysctl_dir())?)
    } else {
        None
    };
    let before = read()?;
    keepalive::set_system_defaults(&config).map_err(refused)?;
    let after = read()?;
    let ns = procfs::own_netns()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let line = |name: &str, b: u64, a: u64, unit: &str| {
        let same = if a == b { " (unchanged)" } else { "" };
        say!("{name}: {b} -> {a}{unit}{same}");
    };
    line(SYSCTLS[0], before.idle, after.idle, " s");
    line(SYSCTLS[1], before.interval, after.interval, " s");
    line(
        SYSCTLS[2],
        u64::from(before.count),
        u64::from(after.count),
        "",
    );
    say!(
        "dead after {} -> {} of silence, for sockets that turn keepalive on without values of \
         their own (this network namespace{ns})",
        fmt::spoken(before.dead_after),
        fmt::spoken(after.dead_after)
    );
    if let Some(path) = file {
        write_atomically(&path, &content(&after)).map_err(|e| {
            Failure::Refused(format!(
                "the values are set, but --persist failed: {}: {e}",
                path.display()
            ))
        })?;
        say!(
            "persisted in {}: `sysctl --system` applies it at boot",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            idle: 600,
            interval: 20,
            count: 4,
            dead_after: Duration::from_secs(680),
        }
    }

    #[test]
    fn the_file_is_ours_and_sysctl_readable() {
        let text = content(&values());
        assert!(is_ours(&text));
        let settings: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            settings,
            vec![
                "net.ipv4.tcp_keepalive_time = 600",
                "net.ipv4.tcp_keepalive_intvl = 20",
                "net.ipv4.tcp_keepalive_probes = 4",
            ]
        );
        assert!(!is_ours("net.ipv4.tcp_keepalive_time = 60\n"));
        assert!(!is_ours(""));
    }

    #[test]
    fn persist_replaces_ours_and_refuses_a_stranger() {
        let dir = std::env::temp_dir().join(format!("keepalive-tool-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = check_persist_target(&dir).unwrap();
        write_atomically(&path, &content(&values())).unwrap();
        let again = check_persist_target(&dir).unwrap();
        write_atomically(&again, &content(&values())).unwrap();
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![FILE_NAME]);
        fs::write(&path, "net.ipv4.tcp_keepalive_time = 60\n").unwrap();
        match check_persist_target(&dir) {
            Err(Failure::Refused(m)) => assert!(m.contains("not written by keepalive"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_persist_target(&dir.join("missing")),
            Err(Failure::Refused(_))
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}

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

/// Where `--persist` writes. No variable names another: a hook of that kind
/// would let whoever sets root's environment choose where root writes (the
/// tests bind-mount a directory of their own over it, in a mount namespace).
pub const SYSCTL_DIR: &str = "/etc/sysctl.d";
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

/// Refuses `--persist` from a network namespace other than the one PID 1
/// runs in (the one the host's boot applies /etc/sysctl.d to): written
/// from a container's or `ip netns exec`'s namespace, the file would give
/// the host at its next boot values it does not have now. Checked before
/// anything changes.
fn check_boot_netns() -> Result<(), Failure> {
    let ours = procfs::own_netns();
    let boot = procfs::netns(1);
    match (&ours, &boot) {
        (Some(a), Some(b)) if a == b => Ok(()),
        (Some(a), Some(b)) => Err(Failure::Refused(format!(
            "--persist: this network namespace ({a}) is not the one PID 1 runs in ({b}), whose \
             boot applies {SYSCTL_DIR}: the file would give that namespace values it does not \
             have now; run it in PID 1's namespace (e.g. `nsenter -t 1 -n keepalive defaults \
             set ... --persist`), or set this namespace's values without --persist; nothing was \
             changed"
        ))),
        _ => Err(Failure::Refused(
            "--persist: cannot tell whether this is PID 1's network namespace (/proc/1/ns/net \
             cannot be read: that needs ptrace rights over PID 1, which root has outside a \
             sandbox); nothing was changed"
                .into(),
        )),
    }
}

/// Where `sysctl --system` (procps) and systemd-sysctl read their files, in
/// order of precedence: a file in an earlier directory hides one of the
/// same name in a later one.
const SYSCTL_DIRS: [&str; 5] = [
    SYSCTL_DIR,
    "/run/sysctl.d",
    "/usr/local/lib/sysctl.d",
    "/usr/lib/sysctl.d",
    "/lib/sysctl.d",
];

/// The keys a sysctl file sets that are ours, with their values: `key =
/// value` lines, the key with dots or slashes and an optional leading `-`.
fn our_keys(text: &str) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_start_matches('-').replace('/', ".");
        if let Some(name) = SYSCTLS.iter().find(|n| **n == key) {
            found.push((*name, value.trim().to_string()));
        }
    }
    found
}

/// The files applied after ours at boot that set one of our values, one
/// sentence each: files of `dirs` whose name sorts after [`FILE_NAME`]
/// (the first directory holding a name wins), then `sysctl.conf`, which
/// `sysctl --system` applies last of all.
fn overridden_by(dirs: &[PathBuf], sysctl_conf: Option<&Path>) -> Vec<String> {
    let mut by_name: std::collections::BTreeMap<std::ffi::OsString, PathBuf> =
        std::collections::BTreeMap::new();
    for dir in dirs {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if name.to_string_lossy().ends_with(".conf") {
                by_name.entry(name).or_insert_with(|| e.path());
            }
        }
    }
    let later = by_name
        .into_iter()
        .filter(|(name, _)| name.as_os_str() > std::ffi::OsStr::new(FILE_NAME))
        .map(|(_, path)| path)
        .chain(sysctl_conf.map(Path::to_path_buf));
    let mut warnings = Vec::new();
    for path in later {
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        for (key, value) in our_keys(&text) {
            warnings.push(format!(
                "warning: {} sets {key} = {value} and is applied after {FILE_NAME} at boot: \
                 that value wins; remove it from there, or put yours there",
                path.display()
            ));
        }
    }
    warnings
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
    let changed = fail::unless_left_changed(&err, "; nothing was changed");
    Failure::Refused(format!("refused: {err}{needs}{changed}"))
}

/// Runs `keepalive defaults set`.
pub fn set(request: &keepalive::Request, persist: bool) -> Result<(), Failure> {
    let config = request.config().map_err(fail::invalid)?;
    if config == Config::new() {
        return Err(Failure::Usage(
            "nothing to set: give at least one of -d, -i, -c".into(),
        ));
    }
    let file = if persist {
        check_boot_netns()?;
        Some(check_persist_target(Path::new(SYSCTL_DIR))?)
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
        let dirs: Vec<PathBuf> = SYSCTL_DIRS.iter().map(PathBuf::from).collect();
        let warnings = overridden_by(&dirs, Some(Path::new("/etc/sysctl.conf")));
        for w in warnings {
            warn!("{w}");
        }
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
    fn later_files_that_set_our_keys_are_found() {
        let root =
            std::env::temp_dir().join(format!("keepalive-tool-later-{}", std::process::id()));
        let (etc, lib) = (root.join("etc"), root.join("lib"));
        fs::create_dir_all(&etc).unwrap();
        fs::create_dir_all(&lib).unwrap();
        fs::write(etc.join(FILE_NAME), content(&values())).unwrap();
        // Before ours: no matter. After ours: warned. Hidden by /etc: not read.
        fs::write(
            etc.join("10-early.conf"),
            "net.ipv4.tcp_keepalive_time = 1\n",
        )
        .unwrap();
        fs::write(
            lib.join("99-late.conf"),
            "# net.ipv4.tcp_keepalive_time = 2\n-net/ipv4/tcp_keepalive_intvl=9\nkernel.x = 1\n",
        )
        .unwrap();
        fs::write(etc.join("70-hidden.conf"), "vm.swappiness = 1\n").unwrap();
        fs::write(
            lib.join("70-hidden.conf"),
            "net.ipv4.tcp_keepalive_probes = 3\n",
        )
        .unwrap();
        let conf = root.join("sysctl.conf");
        fs::write(&conf, "net.ipv4.tcp_keepalive_probes=5\n").unwrap();
        let w = overridden_by(&[etc.clone(), lib.clone()], Some(&conf));
        assert_eq!(w.len(), 2, "{w:#?}");
        assert!(
            w[0].contains("99-late.conf sets net.ipv4.tcp_keepalive_intvl = 9"),
            "{w:?}"
        );
        assert!(
            w[1].contains("sysctl.conf sets net.ipv4.tcp_keepalive_probes = 5"),
            "{w:?}"
        );
        assert!(overridden_by(&[etc], None).is_empty());
        fs::remove_dir_all(&root).unwrap();
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

//! `set_system_defaults`: checked before anything is written, all or
//! nothing, per network namespace. The writing tests run as root in a fresh
//! network namespace of their own (a thread that `unshare(CLONE_NEWNET)`s),
//! so the host's values are never touched; they are `#[ignore]`d, and `make
//! test` runs them as root (and fails without root under CI=true).

use std::time::Duration;

use keepalive::{Config, Error};

const FILES: [&str; 3] = [
    "/proc/sys/net/ipv4/tcp_keepalive_time",
    "/proc/sys/net/ipv4/tcp_keepalive_intvl",
    "/proc/sys/net/ipv4/tcp_keepalive_probes",
];

fn proc_values() -> [u64; 3] {
    FILES.map(|f| std::fs::read_to_string(f).unwrap().trim().parse().unwrap())
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `f` on a thread of its own in a new network namespace (only that
/// thread moves), returning what it returns. Needs root: the tests that call
/// it unconditionally are `#[ignore]`d, and `make test` runs them as root
/// (`cargo test -- --ignored`, mk/rust.mk).
fn in_new_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    assert!(is_root(), "needs root to make a network namespace");
    std::thread::spawn(move || {
        // SAFETY: unshare moves this thread alone into a new namespace.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "unshare: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}

#[test]
fn bad_values_are_refused_before_anything_is_written() {
    let before = proc_values();
    let cases = [
        (
            Config::new().idle(secs(0)),
            "idle must be 1..32767 seconds, got 0",
        ),
        (
            Config::new().idle(secs(600)).interval(secs(40000)),
            "interval must be 1..32767 seconds, got 40000",
        ),
        (
            Config::new().idle(secs(600)).count(0),
            "count must be 1..127 probes, got 0",
        ),
        (
            Config::new().count(128),
            "count must be 1..127 probes, got 128",
        ),
        (
            Config::new().idle(Duration::from_millis(600_500)),
            "idle must be a whole number of seconds in 1..32767, got 600.5s",
        ),
    ];
    for (config, message) in cases {
        let err = keepalive::set_system_defaults(&config).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(proc_values(), before);
    }
    let err = keepalive::set_system_defaults(&Config::new().idle(secs(600)).user_timeout(secs(5)))
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert_eq!(proc_values(), before);
}

#[test]
#[ignore = "needs root: a network namespace of its own (make test runs it as root)"]
fn set_in_a_fresh_namespace_reads_back_everywhere() {
    let host = proc_values();
    let (inside, defaults, socket) = in_new_netns(|| {
        keepalive::set_system_defaults(&Config::new().idle(secs(600)).interval(secs(20)).count(4))
            .unwrap();
        let defaults = keepalive::system_defaults().unwrap();
        // A socket made in this namespace, keepalive merely turned on.
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        keepalive::enable(&sock).unwrap();
        let g = keepalive::get(&sock).unwrap();
        (proc_values(), defaults, (g.idle, g.interval, g.count))
    });
    assert_eq!(inside, [600, 20, 4]);
    assert_eq!(
        (defaults.idle, defaults.interval, defaults.count),
        (Some(secs(600)), Some(secs(20)), Some(4))
    );
    assert_eq!(socket, (secs(600), secs(20), 4));
    assert_eq!(proc_values(), host, "the host's values changed");
}

#[test]
#[ignore = "needs root: a network namespace of its own (make test runs it as root)"]
fn none_fields_stay_and_a_partial_set_changes_only_those() {
    let values = in_new_netns(|| {
        let before = proc_values();
        keepalive::set_system_defaults(&Config::new().count(5)).unwrap();
        (before, proc_values())
    });
    let (before, after) = values;
    assert_eq!(after, [before[0], before[1], 5]);
}

/// Without the right to write (here: a thread that gave up root with the raw
/// setresuid system call, which changes only the calling thread), a clear
/// error naming the file, and nothing written.
#[test]
fn without_permission_nothing_is_written() {
    if !is_root() {
        let err = keepalive::set_system_defaults(&Config::new().idle(secs(601))).unwrap_err();
        assert!(
            err.to_string()
                .contains("/proc/sys/net/ipv4/tcp_keepalive_time"),
            "{err}"
        );
        return;
    }
    let (before, err, after) = in_new_netns(|| {
        let before = proc_values();
        // SAFETY: the raw system call changes this thread's credentials only.
        let rc = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
        assert_eq!(rc, 0);
        let err = keepalive::set_system_defaults(
            &Config::new().idle(secs(601)).interval(secs(21)).count(5),
        )
        .unwrap_err();
        (before, err, proc_values())
    });
    assert_eq!(after, before);
    let text = err.to_string();
    assert!(
        text.starts_with("/proc/sys/net/ipv4/tcp_keepalive_time: Permission denied"),
        "{text}"
    );
    assert_eq!(err.raw_os_error(), libc::EACCES);
}

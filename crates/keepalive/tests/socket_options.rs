//! `socket_options`: the (level, option, value) list that stands for a
//! `Config`, checked like `set`, set by hand on real sockets and read back
//! with our own getsockopt calls, independent of the crate.

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::Duration;

mod common;
use common::*;

use keepalive::{Config, Error};

/// `socket_options` gives the calls `set` makes: set with our own
/// setsockopt on a fresh socket, they leave it as `set` leaves another.
#[test]
fn socket_options_set_by_hand_equal_set() {
    let configs = [
        Config::new(),
        Config::new().count(4),
        Config::new().idle(secs(30)).interval(secs(7)).count(4),
        Config::new()
            .idle(secs(1))
            .interval(secs(32767))
            .user_timeout(Duration::from_millis(2500)),
        keepalive::Deadline::new(secs(60)).config().unwrap(),
    ];
    for config in configs {
        let by_set = TcpListener::bind("127.0.0.1:0").unwrap();
        keepalive::set(&by_set, &config).unwrap();
        let by_hand = TcpListener::bind("127.0.0.1:0").unwrap();
        let opts = keepalive::socket_options(&config).unwrap();
        let last = opts.last().unwrap();
        assert_eq!(
            (last.level, last.name, last.value, last.label),
            (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1, "SO_KEEPALIVE"),
            "{config:?}"
        );
        for o in &opts {
            let v: libc::c_int = o.value;
            // SAFETY: v is a live c_int and the length is its size.
            let rc = unsafe {
                libc::setsockopt(
                    by_hand.as_raw_fd(),
                    o.level,
                    o.name,
                    (&v as *const i32).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "{o:?}: {}", std::io::Error::last_os_error());
        }
        assert_eq!(raw(&by_hand), raw(&by_set), "{config:?}");
    }
}

#[test]
fn socket_options_name_each_option_once_in_sets_order() {
    let config = Config::new()
        .count(5)
        .interval(secs(6))
        .idle(secs(7))
        .user_timeout(Duration::from_millis(8000));
    let got: Vec<_> = keepalive::socket_options(&config)
        .unwrap()
        .iter()
        .map(|o| (o.label, o.level, o.name, o.value))
        .collect();
    assert_eq!(
        got,
        [
            (
                "TCP_USER_TIMEOUT",
                libc::IPPROTO_TCP,
                libc::TCP_USER_TIMEOUT,
                8000
            ),
            ("TCP_KEEPIDLE", libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 7),
            ("TCP_KEEPINTVL", libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 6),
            ("TCP_KEEPCNT", libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 5),
            ("SO_KEEPALIVE", libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1),
        ]
    );
}

#[test]
fn socket_options_refuse_what_set_refuses() {
    for (config, message) in [
        (
            Config::new().idle(secs(0)),
            "idle must be 1..32767 seconds, got 0",
        ),
        (
            Config::new().interval(Duration::from_millis(1500)),
            "interval must be a whole number of seconds in 1..32767, got 1.5s",
        ),
        (
            Config::new().count(128),
            "count must be 1..127 probes, got 128",
        ),
        (
            Config::new().user_timeout(Duration::from_secs(3_000_000)),
            "user_timeout must be 0..2147483647 milliseconds, got 3000000000",
        ),
    ] {
        let err = keepalive::socket_options(&config).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { .. }), "{err:?}");
        assert_eq!(err.to_string(), message);
        let sock = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(
            keepalive::set(&sock, &config).unwrap_err().to_string(),
            message
        );
    }
}

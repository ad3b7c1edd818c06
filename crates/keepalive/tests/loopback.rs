//! Real sockets on loopback, read back with our own getsockopt calls,
//! independent of the crate.

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

mod common;
use common::*;

use keepalive::{Config, Error};

fn so_keepalive(fd: &impl AsRawFd) -> i32 {
    opt(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)
}

fn defaults() -> (i32, i32, i32) {
    let d = keepalive::system_defaults().unwrap();
    (
        d.idle.unwrap().as_secs() as i32,
        d.interval.unwrap().as_secs() as i32,
        d.count.unwrap() as i32,
    )
}

#[test]
fn set_applies_every_value_and_turns_keepalive_on() {
    let (_l, c, _s) = pair();
    assert_eq!(so_keepalive(&c), 0);
    keepalive::set(&c, &Config::new().idle(secs(30)).interval(secs(7)).count(4)).unwrap();
    assert_eq!(raw(&c), (1, 30, 7, 4, 0));
}

#[test]
fn set_leaves_unset_fields_unchanged() {
    let (_l, c, _s) = pair();
    keepalive::set(&c, &Config::new().idle(secs(30)).interval(secs(7)).count(4)).unwrap();
    keepalive::set(&c, &Config::new().interval(secs(9))).unwrap();
    assert_eq!(raw(&c), (1, 30, 9, 4, 0));
}

#[test]
fn get_reads_what_the_kernel_has() {
    let (_l, c, _s) = pair();
    let (idle, interval, count) = defaults();
    let s = keepalive::get(&c).unwrap();
    assert!(!s.enabled);
    assert_eq!(
        (
            s.idle.as_secs() as i32,
            s.interval.as_secs() as i32,
            s.count as i32
        ),
        (idle, interval, count)
    );
    assert_eq!(s.user_timeout, Duration::ZERO);

    keepalive::set(&c, &Config::new().idle(secs(11)).interval(secs(3)).count(2)).unwrap();
    keepalive::set_user_timeout(&c, Duration::from_millis(1234)).unwrap();
    let s = keepalive::get(&c).unwrap();
    assert_eq!(raw(&c), (1, 11, 3, 2, 1234));
    assert!(s.enabled);
    assert_eq!(
        (s.idle, s.interval, s.count, s.user_timeout),
        (secs(11), secs(3), 2, Duration::from_millis(1234))
    );
    // 11 + 3 x 2 = 17 s by count, but a set user timeout replaces the
    // count: 1.234 s is shorter than idle, so one probe at 11 s and death at
    // the next firing, 14 s.
    assert_eq!(s.dead_after(), secs(14));
    assert_eq!(s.probes_until_dead(), 1);
    keepalive::set_user_timeout(&c, Duration::ZERO).unwrap();
    assert_eq!(keepalive::get(&c).unwrap().dead_after(), secs(17));
}

#[test]
fn enable_and_disable_toggle_only_so_keepalive() {
    let (_l, c, _s) = pair();
    keepalive::set(&c, &Config::new().idle(secs(40))).unwrap();
    keepalive::disable(&c).unwrap();
    assert_eq!(raw(&c).0, 0);
    assert_eq!(raw(&c).1, 40);
    keepalive::enable(&c).unwrap();
    assert_eq!(raw(&c).0, 1);
    assert_eq!(raw(&c).1, 40);
}

#[test]
fn extremes_of_the_ranges_are_accepted() {
    let (_l, c, _s) = pair();
    keepalive::set(&c, &Config::new().idle(secs(1)).interval(secs(1)).count(1)).unwrap();
    assert_eq!(raw(&c), (1, 1, 1, 1, 0));
    keepalive::set(
        &c,
        &Config::new()
            .idle(secs(32767))
            .interval(secs(32767))
            .count(127),
    )
    .unwrap();
    assert_eq!(raw(&c), (1, 32767, 32767, 127, 0));
    keepalive::set_user_timeout(&c, Duration::from_millis(i32::MAX as u64)).unwrap();
    assert_eq!(raw(&c).4, i32::MAX);
    keepalive::set_user_timeout(&c, Duration::ZERO).unwrap();
    assert_eq!(raw(&c).4, 0);
}

#[test]
fn invalid_values_are_refused_with_the_range_and_change_nothing() {
    let (_l, c, _s) = pair();
    keepalive::set(&c, &Config::new().idle(secs(30)).interval(secs(7)).count(4)).unwrap();
    keepalive::disable(&c).unwrap();
    let before = raw(&c);
    let cases: Vec<(Config, &str)> = vec![
        (
            Config::new().idle(secs(0)),
            "idle must be 1..32767 seconds, got 0",
        ),
        (
            Config::new().idle(secs(32768)),
            "idle must be 1..32767 seconds, got 32768",
        ),
        (
            Config::new().interval(secs(0)),
            "interval must be 1..32767 seconds, got 0",
        ),
        (
            Config::new().interval(secs(u64::MAX)),
            "interval must be 1..32767 seconds, got 18446744073709551615",
        ),
        (Config::new().count(0), "count must be 1..127 probes, got 0"),
        (
            Config::new().count(128),
            "count must be 1..127 probes, got 128",
        ),
        (
            Config::new().count(u32::MAX),
            "count must be 1..127 probes, got 4294967295",
        ),
        (
            Config::new().idle(Duration::from_millis(1500)),
            "idle must be a whole number of seconds in 1..32767, got 1.5s",
        ),
        (
            Config::new().interval(Duration::from_nanos(1)),
            "interval must be a whole number of seconds in 1..32767, got 1ns",
        ),
        // A bad value after good ones: nothing of the good ones is applied either.
        (
            Config::new().idle(secs(5)).interval(secs(5)).count(200),
            "count must be 1..127 probes, got 200",
        ),
    ];
    for (config, message) in cases {
        let err = keepalive::set(&c, &config).unwrap_err();
        assert!(matches!(err, Error::InvalidValue { .. }), "{err:?}");
        assert_eq!(err.to_string(), message);
        assert_eq!(err.raw_os_error(), libc::EINVAL);
        assert_eq!(raw(&c), before, "{config:?} changed the socket");
    }
}

#[test]
fn invalid_user_timeouts_are_refused() {
    let (_l, c, _s) = pair();
    keepalive::set_user_timeout(&c, Duration::from_millis(700)).unwrap();
    for (t, message) in [
        (Duration::from_millis(i32::MAX as u64 + 1), "user_timeout must be 0..2147483647 milliseconds, got 2147483648"),
        (Duration::from_micros(1500), "user_timeout must be a whole number of milliseconds in 0..2147483647, got 1.5ms"),
        (Duration::MAX, "user_timeout must be a whole number of milliseconds in 0..2147483647, got 18446744073709551615.999999999s"),
    ] {
        let err = keepalive::set_user_timeout(&c, t).unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(raw(&c).4, 700);
    }
}

#[test]
fn from_secs_validates_plain_integers() {
    assert_eq!(
        Config::from_secs(Some(10), Some(2), Some(3)).unwrap(),
        Config::new().idle(secs(10)).interval(secs(2)).count(3)
    );
    assert_eq!(Config::from_secs(None, None, None).unwrap(), Config::new());
    for (args, message) in [
        (
            (Some(-5), None, None),
            "idle must be 1..32767 seconds, got -5",
        ),
        (
            (None, Some(i64::from(i32::MIN)), None),
            "interval must be 1..32767 seconds, got -2147483648",
        ),
        (
            (None, None, Some(i64::from(i32::MAX))),
            "count must be 1..127 probes, got 2147483647",
        ),
        (
            (Some(0), None, None),
            "idle must be 1..32767 seconds, got 0",
        ),
    ] {
        let err = Config::from_secs(args.0, args.1, args.2).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}

/// The all-or-nothing rule: a socket of the wrong kind is refused with the
/// kernel's errno, and SO_KEEPALIVE stays off.
#[test]
fn non_tcp_sockets_are_refused_and_left_unchanged() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (unix, _peer) = UnixStream::pair().unwrap();
    let full = Config::new().idle(secs(5)).interval(secs(1)).count(3);
    for fd in [udp.as_fd(), unix.as_fd()] {
        for result in [
            keepalive::set(&fd, &full).map(drop),
            keepalive::set(&fd, &Config::new().count(3)).map(drop),
            keepalive::enable(&fd),
            keepalive::disable(&fd),
            keepalive::get(&fd).map(drop),
            keepalive::set_user_timeout(&fd, Duration::from_secs(1)),
        ] {
            let err = result.unwrap_err();
            assert!(matches!(err, Error::Os { .. }), "{err:?}");
            let errno = err.raw_os_error();
            assert!(
                errno == libc::ENOPROTOOPT || errno == libc::EOPNOTSUPP,
                "{err}: errno {errno}"
            );
            assert_eq!(so_keepalive(&fd), 0, "SO_KEEPALIVE left on after {err}");
        }
    }
}

#[test]
fn pipes_and_closed_descriptors_are_refused() {
    let mut fds = [-1; 2];
    // SAFETY: fds has room for the two descriptors pipe() writes.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (r, _w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let err = keepalive::set(&r, &Config::new().idle(secs(5))).unwrap_err();
    assert_eq!(err.raw_os_error(), libc::ENOTSOCK, "{err}");
    assert!(err.to_string().starts_with("TCP_KEEPIDLE: "), "{err}");
    let err = keepalive::enable(&r).unwrap_err();
    assert_eq!(err.raw_os_error(), libc::ENOTSOCK);

    // A descriptor number that is closed: borrowed without owning it.
    let closed = {
        let s = TcpListener::bind("127.0.0.1:0").unwrap();
        s.as_raw_fd()
    };
    // SAFETY: the number is only passed to getsockopt/setsockopt, which report EBADF.
    let fd = unsafe { BorrowedFd::borrow_raw(closed) };
    for result in [
        keepalive::enable(&fd),
        keepalive::get(&fd).map(drop),
        keepalive::set_user_timeout(&fd, Duration::ZERO),
    ] {
        assert_eq!(result.unwrap_err().raw_os_error(), libc::EBADF);
    }
}

#[test]
fn errors_convert_into_io_errors() {
    let (_l, c, _s) = pair();
    let io: std::io::Error = keepalive::set(&c, &Config::new().count(0))
        .unwrap_err()
        .into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    assert!(io.to_string().contains("count must be 1..127"));

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = keepalive::enable(&udp).unwrap_err();
    assert!(std::error::Error::source(&err).is_some());
    assert!(err.to_string().contains("TCP_KEEPIDLE"), "{err}");
    let errno = err.raw_os_error();
    let io: std::io::Error = err.into();
    // The kernel's own code survives the conversion (`?` into io::Result).
    assert_eq!(io.raw_os_error(), Some(errno));
    assert!(matches!(errno, libc::ENOPROTOOPT | libc::EOPNOTSUPP));
}

#[test]
fn accepted_sockets_inherit_the_listeners_settings() {
    let l = TcpListener::bind("[::1]:0")
        .or_else(|_| TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    keepalive::set(&l, &Config::new().idle(secs(21)).interval(secs(4)).count(6)).unwrap();
    keepalive::set_user_timeout(&l, Duration::from_millis(9000)).unwrap();
    let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    assert_eq!(raw(&s), (1, 21, 4, 6, 9000));
    let got = keepalive::get(&s).unwrap();
    assert_eq!((got.enabled, got.idle, got.count), (true, secs(21), 6));
}

#[test]
fn works_on_socket2_borrowed_and_owned_descriptors() {
    let s2 = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    keepalive::set(&s2, &Config::new().idle(secs(12))).unwrap();
    assert_eq!((raw(&s2).0, raw(&s2).1), (1, 12));

    let flagged = socket2::Socket::new(
        socket2::Domain::IPV6,
        socket2::Type::STREAM.nonblocking().cloexec(),
        Some(socket2::Protocol::TCP),
    )
    .unwrap();
    let borrowed: BorrowedFd<'_> = flagged.as_fd();
    keepalive::set(&borrowed, &Config::new().count(8)).unwrap();
    assert_eq!((raw(&flagged).0, raw(&flagged).3), (1, 8));

    let owned: OwnedFd = TcpListener::bind("127.0.0.1:0").unwrap().into();
    keepalive::enable(&owned).unwrap();
    assert!(keepalive::get(&owned).unwrap().enabled);
}

#[test]
fn system_defaults_match_proc() {
    let read = |name: &str| -> u64 {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let d = keepalive::system_defaults().unwrap();
    assert_eq!(d.idle, Some(secs(read("tcp_keepalive_time"))));
    assert_eq!(d.interval, Some(secs(read("tcp_keepalive_intvl"))));
    assert_eq!(d.count, Some(read("tcp_keepalive_probes") as u32));
}

#[test]
fn many_threads_at_once() {
    let (_l, c, _s) = pair();
    std::thread::scope(|scope| {
        for i in 1..=8u32 {
            let c = &c;
            scope.spawn(move || {
                for _ in 0..200 {
                    keepalive::set(c, &Config::new().count(i)).unwrap();
                    let s = keepalive::get(c).unwrap();
                    assert!(s.enabled && (1..=8).contains(&s.count));
                    assert!(keepalive::set(c, &Config::new().count(0)).is_err());
                }
            });
        }
    });
}

/// `Config::dead_after` predicts what the socket reports once the same
/// values are applied, the user-timeout rule included.
#[test]
fn config_dead_after_matches_the_applied_settings() {
    let sock = TcpListener::bind("127.0.0.1:0").unwrap();
    let cases = [
        Config::new().idle(secs(2)).interval(secs(1)).count(3),
        Config::new()
            .idle(secs(2))
            .interval(secs(1))
            .count(3)
            .user_timeout(Duration::from_millis(3500)),
        Config::new()
            .idle(secs(15))
            .interval(secs(15))
            .count(9)
            .user_timeout(secs(20)),
        keepalive::Deadline::new(secs(150)).config().unwrap(),
    ];
    for c in cases {
        keepalive::set(&sock, &c).unwrap();
        if c.user_timeout.is_none() {
            keepalive::set_user_timeout(&sock, Duration::ZERO).unwrap();
        }
        assert_eq!(
            c.dead_after(),
            Some(keepalive::get(&sock).unwrap().dead_after()),
            "{c:?}"
        );
    }
    assert_eq!(Config::new().idle(secs(2)).count(3).dead_after(), None);
    let d = keepalive::system_defaults().unwrap();
    let fresh = TcpListener::bind("127.0.0.1:0").unwrap();
    assert_eq!(
        d.dead_after(),
        Some(keepalive::get(&fresh).unwrap().dead_after())
    );
}

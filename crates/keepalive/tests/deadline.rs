//! The dead-peer deadline, the user timeout inside `Config`, `status` and
//! MPTCP, on real sockets, read back with our own getsockopt calls.
//! (Death on the wire is proved in network namespaces: tests/e2e.)

use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

mod common;
use common::*;

use keepalive::{Config, Deadline, Error, Phase, TcpState};

#[test]
fn set_deadline_sets_all_four_consistently() {
    for (d, expected) in [
        (2, (1, 1, 1, 2000)),
        (5, (2, 1, 3, 5000)),
        (60, (30, 10, 3, 60_000)),
        (150, (75, 25, 3, 150_000)),
        (3600, (3375, 75, 3, 3_600_000)),
    ] {
        let (_l, c, _s) = pair();
        keepalive::set_deadline(&c, secs(d)).unwrap();
        let (on, idle, interval, count, ut) = raw(&c);
        assert_eq!(
            (on, idle, interval, count, ut),
            (1, expected.0, expected.1, expected.2, expected.3),
            "D={d}"
        );
        assert_eq!(u64::from((idle + interval * count) as u32), d);
        let s = keepalive::get(&c).unwrap();
        assert_eq!(s.dead_after(), secs(d), "D={d}");
        assert_eq!(s.dead_after_busy(), Some(secs(d)));
        assert_eq!(s.probes_until_dead(), expected.2 as u32);
    }
}

#[test]
fn deadline_with_probes_and_the_schedule_without_applying() {
    let (_l, c, _s) = pair();
    let before = raw(&c);
    let schedule = Deadline::new(secs(60)).probes(5).config().unwrap();
    assert_eq!(raw(&c), before, "computing the schedule touched nothing");
    keepalive::set(&c, &schedule).unwrap();
    assert_eq!(raw(&c), (1, 30, 6, 5, 60_000));
}

#[test]
fn a_listener_passes_its_deadline_to_accepted_connections() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    keepalive::set_deadline(&l, secs(20)).unwrap();
    let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    assert_eq!(raw(&s), (1, 11, 3, 3, 20_000));
    assert_eq!(keepalive::get(&s).unwrap().dead_after(), secs(20));
}

/// Every bad deadline: an error naming the value and its range, and the
/// socket exactly as it was.
#[test]
fn bad_deadlines_change_nothing() {
    let (_l, c, _s) = pair();
    keepalive::set(&c, &Config::new().idle(secs(77)).interval(secs(7)).count(7)).unwrap();
    keepalive::set_user_timeout(&c, Duration::from_millis(7777)).unwrap();
    let before = raw(&c);
    let cases: Vec<(Deadline, &str)> = vec![
        (
            Deadline::new(secs(0)),
            "deadline must be 2..131068 seconds, got 0",
        ),
        (
            Deadline::new(secs(1)),
            "deadline must be 2..131068 seconds, got 1",
        ),
        (
            Deadline::new(Duration::from_millis(5500)),
            "deadline must be a whole number of seconds in 2..131068, got 5.5s",
        ),
        (
            Deadline::new(secs(131_069)),
            "deadline must be 2..131068 seconds, got 131069",
        ),
        (
            Deadline::new(secs(u64::MAX)),
            "deadline must be 2..131068 seconds, got 18446744073709551615",
        ),
        (
            Deadline::new(secs(5)).probes(0),
            "probes must be 1..4 probes for this deadline, got 0",
        ),
        (
            Deadline::new(secs(5)).probes(5),
            "probes must be 1..4 probes for this deadline, got 5",
        ),
        (
            Deadline::new(secs(1000)).probes(128),
            "probes must be 1..127 probes for this deadline, got 128",
        ),
    ];
    for (deadline, message) in cases {
        let err = deadline.config().unwrap_err();
        assert!(matches!(err, Error::InvalidValue { .. }), "{err:?}");
        assert_eq!(err.to_string(), message);
        assert_eq!(
            std::io::Error::from(err).kind(),
            std::io::ErrorKind::InvalidInput
        );
        assert_eq!(raw(&c), before);
    }
    for d in [secs(0), secs(1), Duration::from_millis(2500), secs(200_000)] {
        assert!(keepalive::set_deadline(&c, d).is_err());
        assert_eq!(raw(&c), before, "set_deadline({d:?}) changed something");
    }
    for (d, p) in [
        (-1, None),
        (1, None),
        (5, Some(0)),
        (5, Some(-3)),
        (5, Some(i64::MAX)),
    ] {
        assert!(Deadline::from_secs(d, p).is_err(), "{d} {p:?}");
    }
}

#[test]
fn the_user_timeout_in_a_config_is_all_or_nothing() {
    let (_l, c, _s) = pair();
    keepalive::set(
        &c,
        &Config::new()
            .idle(secs(9))
            .user_timeout(Duration::from_millis(4500)),
    )
    .unwrap();
    assert_eq!(raw(&c).4, 4500);
    let before = raw(&c);
    let err = keepalive::set(
        &c,
        &Config::new()
            .idle(secs(30))
            .count(2)
            .user_timeout(Duration::from_micros(1)),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidValue {
                name: "user_timeout",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(raw(&c), before);
    let err = keepalive::set(
        &c,
        &Config::new().idle(secs(30)).user_timeout(secs(3_000_000)),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "user_timeout must be 0..2147483647 milliseconds, got 3000000000"
    );
    assert_eq!(raw(&c), before);

    // A UDP socket: refused by the first call, the user timeout; nothing set.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = keepalive::set_deadline(&udp, secs(10)).unwrap_err();
    assert_refused(&err, "TCP_USER_TIMEOUT");
    assert!(matches!(
        err.raw_os_error(),
        libc::ENOPROTOOPT | libc::EOPNOTSUPP
    ));
    assert_eq!(raw(&udp).0, 0, "SO_KEEPALIVE stays off");
}

#[test]
fn os_refusals_keep_their_errno_through_io_error() {
    let (r, w) = std::io::pipe().unwrap();
    for result in [
        keepalive::enable(&r),
        keepalive::set_deadline(&w, secs(10)),
        keepalive::status(&r).map(drop),
    ] {
        let err = result.unwrap_err();
        assert_eq!(err.raw_os_error(), libc::ENOTSOCK, "{err}");
        let io: std::io::Error = err.into();
        assert_eq!(io.raw_os_error(), Some(libc::ENOTSOCK));
    }
    fn through_question_mark(sock: &TcpStream) -> std::io::Result<()> {
        keepalive::set_deadline(sock, Duration::from_secs(1))?;
        Ok(())
    }
    let (_l, c, _s) = pair();
    let io = through_question_mark(&c).unwrap_err();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        io.to_string().contains("deadline must be 2..131068"),
        "{io}"
    );
}

#[test]
fn status_of_a_listener_an_unwatched_and_a_watched_connection() {
    let (l, c, mut s) = pair();
    let st = keepalive::status(&l).unwrap();
    assert_eq!(
        (st.state, st.phase, st.dead_in),
        (TcpState::Listen, Phase::NotConnected, None)
    );

    let st = keepalive::status(&c).unwrap();
    assert_eq!(st.state, TcpState::Established);
    assert_eq!(
        (st.phase, st.dead_in),
        (Phase::Unwatched, None),
        "keepalive off: no bound"
    );
    assert_eq!((st.probes_out, st.unacked), (0, 0));

    keepalive::set_deadline(&c, secs(30)).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let st = keepalive::status(&c).unwrap();
    assert_eq!(st.phase, Phase::Idle);
    assert!(st.last_ack >= Duration::from_millis(150), "{st:?}");
    let dead_in = st.dead_in.unwrap();
    // Dead 30 s after the last ACK, which was about 200 ms ago.
    assert!(
        dead_in <= secs(30) - Duration::from_millis(150) && dead_in >= secs(29),
        "{st:?}"
    );
    assert_eq!(st.settings, keepalive::get(&c).unwrap());

    // Data from the peer counts as being heard from.
    s.write_all(b"x").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let st = keepalive::status(&c).unwrap();
    assert!(st.last_data < Duration::from_millis(150), "{st:?}");
    assert!(st.dead_in.unwrap() > secs(29), "{st:?}");
}

/// Asserts that `err` is the kernel's refusal of `option`.
fn assert_refused(err: &Error, option: &str) {
    assert!(
        matches!(err, Error::Os { option: o, .. } if *o == option),
        "{err:?}"
    );
}

fn mptcp_socket() -> Option<OwnedFd> {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_MPTCP) };
    if fd < 0 {
        eprintln!(
            "skipped: this kernel makes no MPTCP socket ({})",
            std::io::Error::last_os_error()
        );
        return None;
    }
    // SAFETY: a fresh descriptor nobody else owns.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// MPTCP answers every keepalive option but has no TCP_USER_TIMEOUT: get
/// reports zero (the truth: none is in force) instead of failing, and a
/// deadline, which needs one, is refused with nothing changed.
#[test]
fn mptcp_sockets_are_read_back_and_tuned() {
    let Some(sock) = mptcp_socket() else { return };
    let s = keepalive::get(&sock).unwrap();
    assert!(!s.enabled);
    assert_eq!(s.user_timeout, Duration::ZERO);
    keepalive::set(
        &sock,
        &Config::new().idle(secs(11)).interval(secs(3)).count(4),
    )
    .unwrap();
    let s = keepalive::get(&sock).unwrap();
    assert!(s.enabled);
    assert_eq!((s.idle, s.interval, s.count), (secs(11), secs(3), 4));
    let before = raw(&sock);
    let err = keepalive::set_deadline(&sock, secs(30)).unwrap_err();
    assert_refused(&err, "TCP_USER_TIMEOUT");
    assert_eq!(raw(&sock), before);
    assert_eq!(keepalive::status(&sock).unwrap().state, TcpState::Close);
}

/// max_idle through the Rust door: the shaped split on a real socket, read
/// back with our own getsockopt calls; a conflict changes nothing.
#[test]
fn max_idle_shapes_the_split_on_the_socket() {
    let (_l, c, _s) = pair();
    let d = Deadline::new(secs(900)).max_idle(secs(350));
    keepalive::set(&c, &d.config().unwrap()).unwrap();
    assert_eq!(raw(&c), (1, 271, 37, 17, 900_000));
    let s = keepalive::get(&c).unwrap();
    assert_eq!(s.dead_after(), secs(900));
    assert!(s.longest_silence().unwrap() < secs(350));
    let err = Deadline::new(secs(60))
        .probes(3)
        .max_idle(secs(10))
        .config()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Conflict {
                name: "max_idle",
                min: 27,
                deadline: 60,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        std::io::Error::from(err).kind(),
        std::io::ErrorKind::InvalidInput
    );
    assert_eq!(raw(&c), (1, 271, 37, 17, 900_000), "nothing changed");
}

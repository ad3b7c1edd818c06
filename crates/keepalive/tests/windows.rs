//! Windows: real sockets on loopback, the options read back with our own
//! `getsockopt` calls. Run by `make check-platforms` under Wine where the
//! machine has it (mk/platforms.mk), and by `cargo test` on Windows.
#![cfg(windows)]

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::windows::io::AsRawSocket;
use std::time::Duration;

use windows_sys::Win32::Networking::WinSock as ws;

/// An int option as the system has it, or the error code it refused with.
fn opt(sock: &impl AsRawSocket, level: i32, name: i32) -> Result<i32, i32> {
    let mut v: i32 = 0;
    let mut len = std::mem::size_of::<i32>() as i32;
    // SAFETY: v and len are live locals of the right size; the socket is
    // borrowed for the call.
    let rc = unsafe {
        ws::getsockopt(
            sock.as_raw_socket() as ws::SOCKET,
            level,
            name,
            (&mut v as *mut i32).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        // SO_KEEPALIVE is a one-byte BOOLEAN on Windows.
        Ok(if len == 1 { v & 0xff } else { v })
    } else {
        // SAFETY: reads the calling thread's last error.
        Err(unsafe { ws::WSAGetLastError() })
    }
}

/// Whether the system accepts setting an int option.
fn accepts(sock: &impl AsRawSocket, level: i32, name: i32, value: i32) -> bool {
    // SAFETY: value is a live local of the length given; the socket is
    // borrowed for the call.
    let rc = unsafe {
        ws::setsockopt(
            sock.as_raw_socket() as ws::SOCKET,
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as i32,
        )
    };
    rc == 0
}

fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// The values land in the per-option `TCP_KEEP*` where this Windows has
/// them (read back), and keepalive is on.
#[test]
fn set_applies_each_value() {
    let (client, _server) = pair();
    let per_option = opt(&client, ws::IPPROTO_TCP, ws::TCP_KEEPIDLE).is_ok();
    let (probe, _) = pair();
    eprintln!(
        "per-option TCP_KEEP*: read {per_option}, set {}",
        accepts(&probe, ws::IPPROTO_TCP, ws::TCP_KEEPIDLE, 30)
    );
    keepalive::set(
        &client,
        &keepalive::Config::new()
            .idle(Duration::from_secs(30))
            .interval(Duration::from_secs(7))
            .count(4),
    )
    .unwrap();
    assert_eq!(opt(&client, ws::SOL_SOCKET, ws::SO_KEEPALIVE), Ok(1));
    if per_option {
        assert_eq!(opt(&client, ws::IPPROTO_TCP, ws::TCP_KEEPIDLE), Ok(30));
        assert_eq!(opt(&client, ws::IPPROTO_TCP, ws::TCP_KEEPINTVL), Ok(7));
        assert_eq!(opt(&client, ws::IPPROTO_TCP, ws::TCP_KEEPCNT), Ok(4));
    }
}

/// A socket that is not TCP is refused with the system's code, and
/// keepalive stays off.
#[test]
fn udp_is_refused_and_unchanged() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = keepalive::set_deadline(&udp, Duration::from_secs(60)).unwrap_err();
    assert!(matches!(err, keepalive::Error::Os { .. }), "{err}");
    assert_eq!(err.raw_os_error(), ws::WSAENOPROTOOPT);
    assert_ne!(opt(&udp, ws::SOL_SOCKET, ws::SO_KEEPALIVE), Ok(1));
}

/// Bad values are refused before any call.
#[test]
fn bad_values_change_nothing() {
    let (client, _server) = pair();
    let err = keepalive::set_deadline(&client, Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, keepalive::Error::InvalidValue { .. }));
    assert_eq!(opt(&client, ws::SOL_SOCKET, ws::SO_KEEPALIVE), Ok(0));
}

/// The busy bound: `TCP_MAXRTMS` in milliseconds where the system has it
/// (read back), else `TCP_MAXRT`; where it has neither, the deadline is
/// refused naming it, with keepalive still off.
#[test]
fn the_deadline_sets_the_retransmission_bound() {
    let (client, _server) = pair();
    let has_maxrtms = opt(&client, ws::IPPROTO_TCP, ws::TCP_MAXRTMS).is_ok();
    let has_maxrt = opt(&client, ws::IPPROTO_TCP, ws::TCP_MAXRT).is_ok();
    eprintln!("TCP_MAXRTMS: {has_maxrtms}, TCP_MAXRT: {has_maxrt}");
    match keepalive::set_deadline(&client, Duration::from_secs(60)) {
        Ok(()) => {
            assert_eq!(opt(&client, ws::SOL_SOCKET, ws::SO_KEEPALIVE), Ok(1));
            if has_maxrtms {
                assert_eq!(opt(&client, ws::IPPROTO_TCP, ws::TCP_MAXRTMS), Ok(60_000));
            } else {
                assert_eq!(opt(&client, ws::IPPROTO_TCP, ws::TCP_MAXRT), Ok(60));
            }
        }
        Err(err) => {
            assert!(!has_maxrtms && !has_maxrt, "{err}");
            assert!(err.to_string().starts_with("TCP_MAXRT"), "{err}");
            assert_eq!(opt(&client, ws::SOL_SOCKET, ws::SO_KEEPALIVE), Ok(0));
        }
    }
}

/// Windows cannot read the values back: `get` and `status` say so.
#[test]
fn get_and_status_are_unsupported() {
    let (client, _server) = pair();
    assert!(matches!(
        keepalive::get(&client),
        Err(keepalive::Error::Unsupported { .. })
    ));
    assert!(matches!(
        keepalive::status(&client),
        Err(keepalive::Error::Unsupported { .. })
    ));
}

/// `socket_options` lists the user timeout as `TCP_MAXRTMS`, first.
#[test]
fn socket_options_name_windows_options() {
    let config = keepalive::Deadline::new(Duration::from_secs(60))
        .config()
        .unwrap();
    let opts: Vec<(i32, i32, i32)> = keepalive::socket_options(&config)
        .unwrap()
        .iter()
        .map(|o| (o.level, o.name, o.value))
        .collect();
    assert_eq!(
        opts,
        [
            (ws::IPPROTO_TCP, ws::TCP_MAXRTMS, 60_000),
            (ws::IPPROTO_TCP, ws::TCP_KEEPIDLE, 30),
            (ws::IPPROTO_TCP, ws::TCP_KEEPINTVL, 10),
            (ws::IPPROTO_TCP, ws::TCP_KEEPCNT, 3),
            (ws::SOL_SOCKET, ws::SO_KEEPALIVE, 1),
        ]
    );
}

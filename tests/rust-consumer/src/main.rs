//! Uses every call of the contract's Rust section from outside the
//! workspace, on std, socket2, tokio and BorrowedFd sockets, as a user's
//! crate would. Exits non-zero (panics) on any mismatch.

use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

fn exercise<S: std::os::fd::AsFd>(what: &str, sock: &S) -> Result<(), Box<dyn std::error::Error>> {
    keepalive::enable(sock)?;
    assert!(keepalive::get(sock)?.enabled, "{what}: enable");
    keepalive::set(
        sock,
        &keepalive::Config::new()
            .idle(Duration::from_secs(30))
            .interval(Duration::from_secs(7))
            .count(4),
    )?;
    keepalive::set_user_timeout(sock, Duration::from_millis(5000))?;
    let s: keepalive::Settings = keepalive::get(sock)?;
    assert!(s.enabled);
    assert_eq!(
        (s.idle, s.interval, s.count, s.user_timeout),
        (
            Duration::from_secs(30),
            Duration::from_secs(7),
            4,
            Duration::from_millis(5000)
        ),
        "{what}: read-back"
    );
    // Bad values are refused, name the value and the range, and change nothing.
    let err = keepalive::set(
        sock,
        &keepalive::Config::new().idle(Duration::from_millis(2500)),
    )
    .unwrap_err();
    assert!(
        matches!(err, keepalive::Error::InvalidValue { name: "idle", .. }),
        "{what}: {err:?}"
    );
    let err = keepalive::set(sock, &keepalive::Config::new().count(128)).unwrap_err();
    assert_eq!(err.to_string(), "count must be 1..127 probes, got 128");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        keepalive::get(sock)?,
        s,
        "{what}: a refused set changed something"
    );
    keepalive::disable(sock)?;
    assert!(!keepalive::get(sock)?.enabled);
    println!("rust-consumer: {what}: ok");
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let d: keepalive::Config = keepalive::system_defaults()?;
    assert!(d.idle.is_some() && d.interval.is_some() && d.count.is_some());

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let stream = TcpStream::connect(listener.local_addr()?)?;
    exercise("std TcpListener", &listener)?;
    exercise("std TcpStream", &stream)?;

    let s2 = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)?;
    exercise("socket2::Socket", &s2)?;

    // SAFETY: stream outlives the borrow.
    let borrowed: BorrowedFd<'_> = unsafe { BorrowedFd::borrow_raw(stream.as_raw_fd()) };
    exercise("BorrowedFd", &borrowed)?;
    exercise("&BorrowedFd from as_fd", &stream.as_fd())?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let c = tokio::net::TcpStream::connect(l.local_addr()?).await?;
        exercise("tokio TcpListener", &l)?;
        exercise("tokio TcpStream", &c)?;
        Ok::<(), Box<dyn std::error::Error>>(())
    })?;

    let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
    let err = keepalive::enable(&udp).unwrap_err();
    assert!(matches!(err, keepalive::Error::Os { .. }), "{err:?}");
    println!("rust-consumer: UDP refused: {err}");
    println!("rust-consumer: every call of the contract works from outside the workspace");
    Ok(())
}

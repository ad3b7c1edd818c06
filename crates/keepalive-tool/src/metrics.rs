//! `keepalive watch --metrics ADDR`: the deaths counted by cause, for
//! Prometheus, on a plain HTTP endpoint the watch's own loop serves (no
//! thread, no HTTP library: every request gets the counters).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use keepalive::Cause;

/// The counters the endpoint shows.
#[derive(Debug, Default)]
pub struct Counters {
    deaths: [u64; Cause::ALL.len()],
    lost: u64,
}

impl Counters {
    /// One more death of this cause.
    pub fn count(&mut self, cause: Cause) {
        if let Some(i) = Cause::ALL.iter().position(|&c| c == cause) {
            self.deaths[i] += 1;
        }
    }

    /// The events lost so far (the watch's running total).
    pub fn set_lost(&mut self, lost: u64) {
        self.lost = lost;
    }

    /// The Prometheus text exposition format.
    pub fn exposition(&self) -> String {
        let mut out = String::from(
            "# HELP keepalive_watch_deaths_total TCP connections the kernel gave up on, by cause.\n\
             # TYPE keepalive_watch_deaths_total counter\n",
        );
        for (cause, n) in Cause::ALL.iter().zip(self.deaths) {
            out.push_str(&format!(
                "keepalive_watch_deaths_total{{cause=\"{cause}\"}} {n}\n"
            ));
        }
        out.push_str(&format!(
            "# HELP keepalive_watch_events_lost_total Deaths not reported: the ring buffer was full.\n\
             # TYPE keepalive_watch_events_lost_total counter\n\
             keepalive_watch_events_lost_total {}\n",
            self.lost
        ));
        out
    }
}

/// The endpoint: a listener the watch polls.
#[derive(Debug)]
pub struct Endpoint {
    listener: TcpListener,
}

impl Endpoint {
    pub fn bind(addr: SocketAddr) -> io::Result<Endpoint> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        Ok(Endpoint { listener })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn listener(&self) -> &TcpListener {
        &self.listener
    }

    /// Answers every request waiting with the counters.
    pub fn serve(&self, counters: &Counters) {
        while let Ok((stream, _)) = self.listener.accept() {
            // A client that sends nothing or reads nothing is dropped.
            let _ = answer(stream, counters);
        }
    }
}

/// Reads the request's head (at most 1 s, 8 KiB), writes the counters.
fn answer(mut stream: TcpStream, counters: &Counters) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    stream.set_write_timeout(Some(Duration::from_secs(1)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let body = counters.exposition();
    let status = if head.starts_with(b"GET ") || head.starts_with(b"HEAD ") {
        "200 OK"
    } else {
        "405 Method Not Allowed"
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if !head.starts_with(b"HEAD ") {
        response.push_str(&body);
    }
    stream.write_all(response.as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_in_the_exposition_format() {
        let mut c = Counters::default();
        c.count(Cause::Keepalive);
        c.count(Cause::Keepalive);
        c.count(Cause::Reset);
        c.set_lost(7);
        let text = c.exposition();
        assert!(text.contains("keepalive_watch_deaths_total{cause=\"keepalive\"} 2\n"));
        assert!(text.contains("keepalive_watch_deaths_total{cause=\"zero-window\"} 0\n"));
        assert!(text.contains("keepalive_watch_deaths_total{cause=\"reset\"} 1\n"));
        assert!(text.ends_with("keepalive_watch_events_lost_total 7\n"));
        assert_eq!(text.matches("# TYPE").count(), 2);
    }

    #[test]
    fn a_request_gets_them() {
        let ep = Endpoint::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let mut client = TcpStream::connect(ep.local_addr().unwrap()).unwrap();
        client
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut c = Counters::default();
        c.count(Cause::ZeroWindow);
        // The connection is in the accept queue once connect() returned.
        ep.serve(&c);
        let mut reply = String::new();
        client.read_to_string(&mut reply).unwrap();
        assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        assert!(reply.contains("cause=\"zero-window\"} 1\n"), "{reply}");
    }
}

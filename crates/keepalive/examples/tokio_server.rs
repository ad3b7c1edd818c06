//! A tokio echo server that declares a vanished client dead within a
//! deadline, and says so as it happens.
//!
//! ```text
//! cargo run -p keepalive --example tokio_server -- [--deadline SECONDS] [PORT]
//! ```
//!
//! The deadline (default 60 s) is set once, on the listener: every accepted
//! connection inherits idle, interval, count and `TCP_USER_TIMEOUT` from it.
//! Each connection is echoed; once a second its liveness is read with
//! [`keepalive::status`], and a line is printed whenever the kernel starts
//! probing a silent client (probes out, time since its last ACK, time until
//! it is declared dead). A client that vanishes without a FIN or RST (power
//! lost, cable pulled) is reported `lost: Connection timed out` about the
//! deadline after it was last heard from. `PORT` 0 (the default) picks a
//! free port; the first line says which.
//!
//! `tests/rust/tokio_dead_client.py` runs it in a private network namespace
//! and makes a client vanish with an nftables rule (`make test-rust`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (deadline, port) = match parse(std::env::args().skip(1)) {
        Ok(v) => v,
        Err(msg) => {
            eprintln!("tokio_server: {msg}\nusage: tokio_server [--deadline SECONDS] [PORT]");
            std::process::exit(2);
        }
    };
    if let Err(e) = serve(deadline, port).await {
        eprintln!("tokio_server: {e}");
        std::process::exit(1);
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(Duration, u16), String> {
    let (mut deadline, mut port) = (60, 0);
    while let Some(arg) = args.next() {
        if arg == "--deadline" || arg == "-D" {
            let v = args.next().ok_or("--deadline needs a value")?;
            deadline = v
                .parse()
                .map_err(|_| format!("--deadline: not a number of seconds: {v}"))?;
        } else {
            port = arg.parse().map_err(|_| format!("not a port: {arg}"))?;
        }
    }
    Ok((Duration::from_secs(deadline), port))
}

async fn serve(deadline: Duration, port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind(("0.0.0.0", port)).await?;
    // Once, on the listener: accepted connections inherit it. The core
    // checks the value (2..=131068 s) before anything changes.
    keepalive::set_deadline(&listener, deadline)?;
    let s = keepalive::get(&listener)?;
    println!(
        "listening on port {}, deadline {} s: idle {} s, interval {} s, count {}, user timeout {} ms",
        listener.local_addr()?.port(),
        deadline.as_secs(),
        s.idle.as_secs(),
        s.interval.as_secs(),
        s.count,
        s.user_timeout.as_millis()
    );
    loop {
        let (stream, peer) = listener.accept().await?;
        tokio::spawn(watch(stream, peer));
    }
}

/// Echoes one client until it closes or is declared dead, reporting its
/// liveness from `TCP_INFO` once a second while the kernel probes it.
async fn watch(mut stream: TcpStream, peer: SocketAddr) {
    let since = Instant::now();
    match keepalive::get(&stream) {
        Ok(s) => println!(
            "client {peer} connected (inherited: dead {} ms after it was last heard from)",
            s.dead_after().as_millis()
        ),
        Err(e) => println!("client {peer} connected; keepalive::get: {e}"),
    }
    let mut buf = [0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut probes_seen = 0;
    let reason = loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) => break "closed by peer".to_owned(),
                Ok(n) => {
                    if let Err(e) = stream.write_all(&buf[..n]).await {
                        break e.to_string();
                    }
                }
                // A dead peer: the kernel's ETIMEDOUT ("Connection timed out").
                Err(e) => break e.to_string(),
            },
            _ = tick.tick() => match keepalive::status(&stream) {
                Ok(st) if st.probes_out != probes_seen => {
                    probes_seen = st.probes_out;
                    println!(
                        "client {peer}: {} probe(s) unanswered, last ACK {} ms ago, dead in {} ms",
                        st.probes_out,
                        st.last_ack.as_millis(),
                        st.dead_in.map_or(-1, |d| d.as_millis() as i64)
                    );
                }
                Ok(_) => {}
                Err(e) => break format!("keepalive::status: {e}"),
            },
        }
    };
    let st = keepalive::status(&stream).ok();
    println!(
        "client {peer} lost: {reason} after {:.1} s connected{}",
        since.elapsed().as_secs_f64(),
        st.map(|st| format!(", last ACK {} ms before", st.last_ack.as_millis()))
            .unwrap_or_default()
    );
}

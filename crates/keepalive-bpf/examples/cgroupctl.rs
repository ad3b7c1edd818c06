//! `keepalive cgroup ...` until the operator's tool wires it in: the same
//! arguments, output and exit status.
//!
//! ```text
//! cargo run -p keepalive-bpf --example cgroupctl -- attach /sys/fs/cgroup/unified/app -D 5
//! ```

fn main() -> std::process::ExitCode {
    keepalive_bpf::cli::run(std::env::args().skip(1))
}

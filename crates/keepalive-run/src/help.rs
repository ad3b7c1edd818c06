//! keepalive-run's usage line and `--help` text, which the operator's tool
//! also turns into the keepalive-run(1) manual page.

pub(crate) fn usage(name: &str) -> String {
    format!(
        "usage: {name} [-d IDLE] [-i INTVL] [-c CNT] [-u USER_TIMEOUT_MS] [-D DEADLINE [--max-idle T]] [--enforce] -- PROGRAM [ARGS...]"
    )
}

/// The help text `--help` prints, naming the program `name`: the one
/// description of the options, which the operator's tool also turns into
/// the keepalive-run(1) manual page.
pub fn help_text(name: &str) -> String {
    format!(
        "\
{usage}

Runs PROGRAM with TCP keepalive turned on for every TCP socket it creates
(IPv4 and IPv6, TCP and MPTCP), through the LD_PRELOAD library
libkeepalive-preload.so.

Options (each left at the system default when not given):
  -d, --idle IDLE              seconds idle before the first probe (TCP_KEEPIDLE), 1..32767
  -i, --interval INTVL         seconds between unanswered probes (TCP_KEEPINTVL), 1..32767
  -c, --count CNT              unanswered probes before the peer is dead (TCP_KEEPCNT), 1..127
  -u, --user-timeout MS        milliseconds sent data may stay unacknowledged
                               (TCP_USER_TIMEOUT), 0..2147483647
  -D, --deadline SECONDS       the dead-peer deadline: a peer silent this long is
                               declared dead, idle or busy (sets idle, interval,
                               count and the user timeout together), 2..131068;
                               not with -d/-i/-c/-u
      --max-idle T             with -D: the silence a NAT, firewall or load
                               balancer on the path tolerates (AWS NLB 350,
                               Azure LB 240): a healthy connection is never
                               silent that long, even with one probe lost,
                               and the deadline still holds; 5..4294967295
      --enforce                the program's own keepalive setsockopt calls
                               (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT,
                               TCP_USER_TIMEOUT) get the values given here
                               instead; without it they win, and the first
                               that overrides each value is named on stderr
  -h, --help                   this text
  -V, --version                the version

The values reach the library as KEEPIDLE, KEEPINTVL, KEEPCNT,
KEEPALIVE_USER_TIMEOUT_MS, KEEPALIVE_DEADLINE and KEEPALIVE_MAX_IDLE, with KEEPALIVE=on and
KEEPALIVE_ENFORCE=1 (--enforce) or 0: they
win over the same variables inherited from the environment (an inherited
KEEPALIVE=off included; -D also drops inherited KEEPIDLE, KEEPINTVL,
KEEPCNT and KEEPALIVE_USER_TIMEOUT_MS, and -d/-i/-c/-u an inherited
KEEPALIVE_DEADLINE and KEEPALIVE_MAX_IDLE). The library is appended to LD_PRELOAD.

Exit status: PROGRAM's; 2 for bad arguments; 125 when the library is
missing or cannot be loaded, or PROGRAM is statically linked or setuid
(no preload library reaches those: see `keepalive cgroup`); 126 when
PROGRAM cannot be executed; 127 when it is not found.

Examples:
  {name} -D 60 -- ssh host.example.org
  {name} -D 900 --max-idle 350 -- psql -h db.example.org
  {name} -D 10 --enforce -- curl https://example.org/  (curl sets 60 s itself)
  {name} -d 60 -i 10 -c 5 -- ssh host.example.org",
        usage = usage(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_the_program_as_called() {
        let text = help_text("keepalive run");
        assert!(text.starts_with("usage: keepalive run [-d IDLE]"), "{text}");
        assert!(text.contains("  keepalive run -d 60"), "{text}");
    }
}

//! `keepalive cgroup attach|detach|list|prune`: keepalive-bpf attaches,
//! detaches, reads back and prunes; this says what it did, as lines for people and JSON for
//! scripts. After an attach, the connections the cgroup's processes have
//! already (which sock_ops never sees) are retuned here, with the sockets
//! taken as `keepalive set` takes them (target.rs) and the values
//! keepalive-bpf's `plan` gives each.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use keepalive::{Config, Settings, TcpState};
use keepalive_bpf::{AttachReport, Attachment, DetachReport, State};
use serde::Serialize;

use crate::fail::{self, Failure};
use crate::procfs::TcpTables;
use crate::set;
use crate::target::{self, Denied};

/// `on 2/1/3 5000 ms`: keepalive on, idle/interval/count, user timeout; a
/// `-` where the policy leaves the socket's own value.
fn describe(c: &Config) -> String {
    let dash = |v: Option<u64>| v.map_or("-".to_string(), |n| n.to_string());
    format!(
        "on {}/{}/{} {}",
        dash(c.idle.map(|d| d.as_secs())),
        dash(c.interval.map(|d| d.as_secs())),
        dash(c.count.map(u64::from)),
        c.user_timeout
            .map_or("-".to_string(), |d| format!("{} ms", d.as_millis()))
    )
}

/// `dead after 5 s idle, 5 s busy`, by the kernel's rule, with this
/// namespace's defaults where the policy leaves a value.
fn dead_after(c: &Config) -> String {
    let d = keepalive::system_defaults().unwrap_or_default();
    set::dead_after(&Settings::new(
        true,
        c.idle.or(d.idle).unwrap_or(Duration::from_secs(7200)),
        c.interval.or(d.interval).unwrap_or(Duration::from_secs(75)),
        c.count.or(d.count).unwrap_or(9),
        c.user_timeout.unwrap_or(Duration::ZERO),
    ))
}

fn enforce_words(enforce: bool) -> &'static str {
    if enforce {
        "enforced: the programs' own keepalive calls are rewritten to it"
    } else {
        "not enforced: a program that sets its own keepalive keeps it"
    }
}

/// What retuning the existing connections did.
#[derive(Debug, Default)]
struct Existing {
    /// Processes looked at.
    processes: usize,
    /// Connections given the policy (all of it, or the values that were
    /// not their own).
    retuned: usize,
    /// Connections that kept every value the policy sets as their own
    /// (without `--enforce`).
    kept: usize,
    /// What could not be done, one sentence each (a process whose sockets
    /// could not be taken, a socket the kernel refused).
    problems: Vec<String>,
}

/// Gives the connected TCP sockets of the cgroup's processes what
/// `keepalive_bpf::plan` says, each socket once (a fork or a dup shares
/// one). Listeners are left alone: what they accept from now on gets the
/// policy from sock_ops. A process that exited meanwhile is no problem.
fn retune_existing(r: &AttachReport) -> Existing {
    let mut done = Existing::default();
    let pids = match keepalive_bpf::processes(&r.cgroup) {
        Ok(pids) => pids,
        Err(e) => {
            done.problems.push(e.to_string());
            return done;
        }
    };
    let defaults = keepalive::system_defaults().unwrap_or_default();
    let previous = r.replaced.as_ref().map(|(policy, _)| policy);
    let me = std::process::id();
    let mut tables = TcpTables::default();
    let mut seen = HashSet::new();
    let batch = target::batch_size();
    for pid in pids.into_iter().filter(|&p| p != me) {
        done.processes += 1;
        // What changed between listing and taking is not there to retune.
        let taken = target::take_tcp(pid, &mut tables, batch, |taken| {
            for sock in taken.sockets {
                let Ok(status) = keepalive::status(&sock.handle) else {
                    continue;
                };
                if matches!(status.state, TcpState::Listen | TcpState::Close)
                    || !seen.insert(sock.inode)
                {
                    continue;
                }
                let plan = keepalive_bpf::plan(
                    &status.settings,
                    &defaults,
                    previous,
                    &r.policy,
                    r.enforce,
                );
                let Some(apply) = plan else {
                    done.kept += 1;
                    continue;
                };
                match keepalive::set(&sock.handle, &apply) {
                    Ok(()) => done.retuned += 1,
                    Err(e) => done.problems.push(format!("pid {pid} fd {}: {e}", sock.fd)),
                }
            }
        });
        match taken {
            Ok(()) | Err(Denied::Gone) => {}
            // The same for every process: said once.
            Err(Denied::NoPidfd { call }) => {
                done.problems.push(fail::no_pidfd(call));
                break;
            }
            Err(why) => done.problems.push(fail::denied(pid, &why)),
        }
    }
    done
}

fn print_attach(r: &AttachReport) {
    if let Some(fs) = &r.mounted {
        say!(
            "mounted the BPF filesystem at {} (none was mounted), as bpftool does; the policy \
             lasts while it stays mounted",
            fs.display()
        );
    }
    say!(
        "{} (cgroup id {}): policy {} ({}), {}",
        r.cgroup.display(),
        r.cgroup_id,
        describe(&r.policy),
        dead_after(&r.policy),
        enforce_words(r.enforce)
    );
    if let Some((old, old_enforce)) = &r.replaced {
        say!(
            "  replaced the policy {}{}",
            describe(old),
            if *old_enforce { " (enforced)" } else { "" }
        );
    }
    let programs = if r.enforce {
        "sockops, setsockopt"
    } else {
        "sockops"
    };
    say!("  attached: {programs}; pinned in {}", r.pins.display());
    if let Some(d) = r.deadline {
        say!(
            "  deadline kept in every state: at each retransmission timeout the user timeout is \
             shortened to what is left of {} since the peer was last heard",
            crate::fmt::spoken(d)
        );
    }
}

fn print_existing(e: &Existing) {
    say!(
        "  existing connections: {} retuned, {} kept their own keepalive, by pidfd_getfd over {} \
         processes",
        e.retuned,
        e.kept,
        e.processes
    );
    for p in &e.problems {
        say!("  existing connections: not retuned: {p}");
    }
}

/// Runs `keepalive cgroup attach`. `policy` was checked already. In this
/// order: the programs attached (every new connection covered from then
/// on), then the connections that existed already retuned, so that none
/// falls between the two. With `-D`, `deadline` is that deadline (and
/// `policy` its split): kept in every state by the sock_ops program.
pub fn attach(cgroup: &Path, request: &keepalive::Request, enforce: bool) -> Result<(), Failure> {
    let policy = request.config().map_err(fail::invalid)?;
    let report = match request.deadline().map_err(fail::invalid)? {
        Some(d) => keepalive_bpf::attach_deadline(cgroup, &d, enforce),
        None => keepalive_bpf::attach(cgroup, &policy, enforce),
    }
    .map_err(fail::cgroup)?;
    print_attach(&report);
    let existing = retune_existing(&report);
    print_existing(&existing);
    if existing.problems.is_empty() {
        Ok(())
    } else {
        // The policy is in force for new connections; the old ones that
        // were not retuned are the operator's to see to.
        Err(Failure::Refused(format!(
            "the policy is attached, but existing connections were not all retuned: {} \
             problem(s), listed above; new connections get the policy",
            existing.problems.len()
        )))
    }
}

fn print_detach(r: &DetachReport) {
    say!(
        "{}: detached the policy {}{}; it had tuned {} sockets, kept {} values of their own, \
         rewritten {} calls, {} refused",
        r.cgroup.display(),
        describe(&r.policy),
        if r.enforce { " (enforced)" } else { "" },
        r.stats.tuned,
        r.stats.kept,
        r.stats.rewritten,
        r.stats.failed
    );
    for path in &r.removed {
        say!("  removed {}", path.display());
    }
    say!("  connections keep the values they were given; new ones get none");
}

/// Runs `keepalive cgroup detach`.
pub fn detach(cgroup: &Path) -> Result<(), Failure> {
    let report = keepalive_bpf::detach(cgroup).map_err(fail::cgroup)?;
    print_detach(&report);
    Ok(())
}

/// One attachment, as `list --json` prints it: the policy's values in
/// seconds (`user_timeout_ms` in milliseconds), `null` where the policy
/// leaves the value; `cgroup` `null` once the cgroup is gone or where no
/// cgroup v2 mount shows it; `state` the kernel's word (`State::name`).
#[derive(Debug, PartialEq, Eq, Serialize)]
struct Row {
    cgroup: Option<String>,
    cgroup_id: u64,
    state: &'static str,
    idle: Option<u64>,
    interval: Option<u64>,
    count: Option<u32>,
    user_timeout_ms: Option<u64>,
    enforce: bool,
    tuned: u64,
    kept: u64,
    rewritten: u64,
    failed: u64,
    pins: String,
}

impl Row {
    fn of(a: &Attachment) -> Row {
        Row {
            cgroup: a.cgroup.as_ref().map(|p| p.to_string_lossy().into_owned()),
            cgroup_id: a.cgroup_id,
            state: a.state.name(),
            idle: a.policy.idle.map(|d| d.as_secs()),
            interval: a.policy.interval.map(|d| d.as_secs()),
            count: a.policy.count,
            user_timeout_ms: a.policy.user_timeout.map(crate::fmt::ms),
            enforce: a.enforce,
            tuned: a.stats.tuned,
            kept: a.stats.kept,
            rewritten: a.stats.rewritten,
            failed: a.stats.failed,
            pins: a.pins.to_string_lossy().into_owned(),
        }
    }
}

fn print_list(all: &[Attachment]) {
    if all.is_empty() {
        say!("no keepalive policy is attached to any cgroup");
        return;
    }
    let name = |a: &Attachment| {
        a.cgroup.as_ref().map_or_else(
            || match a.state {
                State::Attached => {
                    format!("(cgroup {}, not under a cgroup2 mount here)", a.cgroup_id)
                }
                _ => format!("(cgroup {} removed)", a.cgroup_id),
            },
            |p| p.display().to_string(),
        )
    };
    let width = all.iter().map(|a| name(a).len()).max().unwrap_or(6).max(6);
    say!(
        "{:<width$}  {:<18} {:<8} {:>7} {:>6} {:>9} {:>6}  STATE",
        "CGROUP",
        "POLICY",
        "ENFORCE",
        "TUNED",
        "KEPT",
        "REWRITTEN",
        "FAILED"
    );
    for a in all {
        say!(
            "{:<width$}  {:<18} {:<8} {:>7} {:>6} {:>9} {:>6}  {}",
            name(a),
            describe(&a.policy),
            if a.enforce { "yes" } else { "no" },
            a.stats.tuned,
            a.stats.kept,
            a.stats.rewritten,
            a.stats.failed,
            state_words(a.state)
        );
    }
    if all.iter().any(|a| a.state != State::Attached) {
        say!("`keepalive cgroup prune` removes the pins of those not attached");
    }
}

fn state_words(s: State) -> &'static str {
    match s {
        State::Attached => "attached",
        State::Detached => "detached (the cgroup was removed)",
        _ => "not attached (an attach or detach was interrupted)",
    }
}

/// Runs `keepalive cgroup list`.
pub fn list(json: bool) -> Result<(), Failure> {
    let all = keepalive_bpf::list().map_err(fail::cgroup)?;
    if json {
        let rows: Vec<Row> = all.iter().map(Row::of).collect();
        say!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("plain data serializes")
        );
    } else {
        print_list(&all);
    }
    Ok(())
}

/// Runs `keepalive cgroup prune`.
pub fn prune() -> Result<(), Failure> {
    let removed = keepalive_bpf::prune().map_err(fail::cgroup)?;
    if removed.is_empty() {
        say!("nothing to prune: every pinned policy is attached");
    }
    for path in &removed {
        say!("removed {} (not attached)", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_in_words() {
        let d5 = keepalive::Deadline::new(Duration::from_secs(5))
            .config()
            .unwrap();
        assert_eq!(describe(&d5), "on 2/1/3 5000 ms");
        assert_eq!(dead_after(&d5), "dead after 5 s idle, 5 s busy");
        let c = Config::new()
            .idle(Duration::from_secs(600))
            .user_timeout(Duration::from_millis(30000));
        assert_eq!(describe(&c), "on 600/-/- 30000 ms");
        assert_eq!(describe(&Config::new()), "on -/-/- -");
    }

    #[test]
    fn json_names_every_field() {
        let row = Row {
            cgroup: Some("/sys/fs/cgroup/a \"b\"".into()),
            cgroup_id: 7,
            state: "attached",
            idle: Some(600),
            interval: None,
            count: None,
            user_timeout_ms: None,
            enforce: true,
            tuned: 3,
            kept: 0,
            rewritten: 0,
            failed: 0,
            pins: "/sys/fs/bpf/keepalive/cgroup-7".into(),
        };
        assert_eq!(
            serde_json::to_string(&[row]).unwrap(),
            "[{\"cgroup\":\"/sys/fs/cgroup/a \\\"b\\\"\",\"cgroup_id\":7,\"state\":\"attached\",\
             \"idle\":600,\
             \"interval\":null,\"count\":null,\"user_timeout_ms\":null,\"enforce\":true,\
             \"tuned\":3,\"kept\":0,\"rewritten\":0,\"failed\":0,\
             \"pins\":\"/sys/fs/bpf/keepalive/cgroup-7\"}]"
        );
        let none: [Row; 0] = [];
        assert_eq!(serde_json::to_string(&none).unwrap(), "[]");
    }
}

//! The environment: the process's own, read only where that is safe
//! ([`var`]), and the configuration it asks for ([`read`]): the variables
//! of libkeepalive 0.3 plus `KEEPALIVE_USER_TIMEOUT_MS` and
//! `KEEPALIVE_DEADLINE`, every value checked by the core so that the ranges
//! (and the deadline's split) live in one place.
//!
//! Nothing here allocates: values are borrowed from the environment, parsed
//! in place, and warnings are handed on as `fmt::Arguments`.

use std::ffi::CStr;
use std::fmt;
use std::time::Duration;

use keepalive::{Config, Field};

use crate::settings::Wanted;

/// What `KEEPALIVE_ENFORCE` asks for the program's own keepalive
/// `setsockopt` calls (`SO_KEEPALIVE`, `TCP_KEEPIDLE`/`INTVL`/`CNT`,
/// `TCP_USER_TIMEOUT`) on a TCP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enforce {
    /// Unset or empty: the program's own calls win, silently (libkeepalive
    /// 0.3's behaviour).
    Quiet,
    /// `0` or `off` (what `keepalive-run` passes without `--enforce`): the
    /// program's own calls win, and the first one that overrides each
    /// configured value is named on stderr, once per process.
    Tell,
    /// `1` or `on` (`keepalive-run --enforce`): the configured value
    /// replaces the program's own in each such call.
    On,
}

/// The names of the variables: the core's one list.
pub(crate) use keepalive::env::{
    DEADLINE, ENFORCE, KEEPALIVE, KEEPCNT, KEEPIDLE, KEEPINTVL, MAX_IDLE, USER_TIMEOUT,
};

/// A variable of the environment as the library may read it: the process's
/// own, or none at all in secure-execution mode (then the settings are
/// those of an empty environment, and no warning, nor the mark of one, is
/// made). Every read of the environment goes through here.
pub(crate) fn var(name: &str) -> Option<&'static [u8]> {
    if secure_execution() {
        None
    } else {
        getenv(name)
    }
}

/// Whether this process runs in secure-execution mode (`AT_SECURE`: a
/// setuid, setgid or file-capability program, reached only through
/// /etc/ld.so.preload or a setuid library in a system directory). Then the
/// environment belongs to a less privileged caller: its values are ignored
/// (the library acts as with an empty environment, keepalive on with the
/// system's defaults) and nothing is written to stderr.
fn secure_execution() -> bool {
    // SAFETY: getauxval reads the process's auxiliary vector; 0 when absent.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The raw value of an environment variable, borrowed from `environ`.
fn getenv(name: &str) -> Option<&'static [u8]> {
    let mut cname = [0u8; 64];
    let bytes = name.as_bytes();
    if bytes.len() >= cname.len() {
        return None;
    }
    cname[..bytes.len()].copy_from_slice(bytes);
    // SAFETY: `cname` is NUL-terminated. getenv returns NULL or a pointer to
    // a NUL-terminated string in `environ`, which is used only while the
    // settings are being read, inside this socket() call.
    unsafe {
        let p = libc::getenv(cname.as_ptr().cast());
        (!p.is_null()).then(|| CStr::from_ptr(p).to_bytes())
    }
}

/// Reads every variable through `lookup` (name -> raw bytes, `None` when
/// unset) and returns what they ask for. Each invalid value is reported
/// once through `warn` (one line, without the trailing newline, naming the
/// variable and the allowed range) and ignored.
///
/// An empty value counts as unset (`KEEPIDLE= program` is a common way to
/// unset a variable for one command).
pub(crate) fn read<'e>(
    lookup: impl Fn(&str) -> Option<&'e [u8]>,
    mut warn: impl FnMut(fmt::Arguments<'_>),
) -> Wanted {
    let enabled = match lookup(KEEPALIVE) {
        None => true,
        Some(v) if v.eq_ignore_ascii_case(b"off") => false,
        Some(v) if v.is_empty() || v.eq_ignore_ascii_case(b"on") => true,
        Some(v) => {
            // libkeepalive 0.3 turns keepalive on for anything but "off";
            // so do we, and say so.
            warn(format_args!(
                "ignoring {KEEPALIVE}=\"{}\": {KEEPALIVE} must be on or off; keepalive stays on",
                Shown(v)
            ));
            true
        }
    };
    let enforce = match lookup(ENFORCE) {
        None | Some([]) => Enforce::Quiet,
        Some(v) if v == b"1" || v.eq_ignore_ascii_case(b"on") => Enforce::On,
        Some(v) if v == b"0" || v.eq_ignore_ascii_case(b"off") => Enforce::Tell,
        Some(v) => {
            warn(format_args!(
                "ignoring {ENFORCE}=\"{}\": {ENFORCE} must be 1 or 0; the program's own \
                 keepalive calls win",
                Shown(v)
            ));
            Enforce::Quiet
        }
    };
    // A valid deadline stands for all four values: it wins over the
    // separate ones, which are then ignored (one warning names them) rather
    // than mixed in, since any one of them would break its promise.
    let deadline = number(&lookup, DEADLINE, Field::Deadline, &mut warn)
        .and_then(|d| keepalive::Deadline::from_secs(d, None).ok());
    // The middlebox's silence shapes the deadline's split; one the deadline
    // cannot keep is ignored with the core's message (naming both), and the
    // deadline applies as it is.
    let max_idle = number(&lookup, MAX_IDLE, Field::MaxIdle, &mut warn);
    let deadline = match (deadline, max_idle) {
        (Some(d), Some(t)) => match d.max_idle_from_secs(t) {
            Ok(shaped) => Some(shaped),
            Err(e) => {
                warn(format_args!("ignoring {MAX_IDLE}=\"{t}\": {e}"));
                Some(d)
            }
        },
        (None, Some(t)) => {
            warn(format_args!(
                "ignoring {MAX_IDLE}=\"{t}\": it shapes a deadline; set {DEADLINE} with it"
            ));
            None
        }
        (d, None) => d,
    };
    let deadline = deadline.and_then(|d| d.config().ok());
    if let Some(config) = deadline {
        let separate = [KEEPIDLE, KEEPINTVL, KEEPCNT, USER_TIMEOUT]
            .map(|name| lookup(name).filter(|v| !v.is_empty()).map(|v| (name, v)));
        if separate.iter().any(Option::is_some) {
            warn(format_args!(
                "{DEADLINE}=\"{}\" sets idle, interval, count and the user timeout together; \
                 ignoring{}",
                Shown(lookup(DEADLINE).unwrap_or_default()),
                Ignored(&separate)
            ));
        }
        if !enabled {
            warn(format_args!(
                "{KEEPALIVE}=off: ignoring {DEADLINE}=\"{}\" (a deadline is keepalive)",
                Shown(lookup(DEADLINE).unwrap_or_default())
            ));
            return Wanted {
                enabled,
                keepalive: Config::new(),
                user_timeout: None,
                enforce,
            };
        }
        // The user timeout is applied on its own (see `apply`), so that a
        // socket without one (MPTCP) still gets the keepalive part.
        return Wanted {
            enabled,
            keepalive: Config {
                user_timeout: None,
                ..config
            },
            user_timeout: config.user_timeout,
            enforce,
        };
    }
    let secs = |n: i64| Duration::from_secs(n as u64);
    let idle = number(&lookup, KEEPIDLE, Field::Idle, &mut warn).map(secs);
    let interval = number(&lookup, KEEPINTVL, Field::Interval, &mut warn).map(secs);
    let count = number(&lookup, KEEPCNT, Field::Count, &mut warn).map(|n| n as u32);
    let user_timeout = number(&lookup, USER_TIMEOUT, Field::UserTimeout, &mut warn)
        .map(|ms| Duration::from_millis(ms as u64));
    Wanted {
        enabled,
        keepalive: Config {
            idle,
            interval,
            count,
            user_timeout: None,
        },
        user_timeout,
        enforce,
    }
}

/// The separate variables a deadline overrides, for the warning:
/// ` KEEPIDLE="60" KEEPCNT="5"`.
struct Ignored<'a, 'e>(&'a [Option<(&'static str, &'e [u8])>; 4]);

impl fmt::Display for Ignored<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in self.0.iter().flatten() {
            write!(f, " {name}=\"{}\"", Shown(value))?;
        }
        Ok(())
    }
}

/// One numeric variable: `None` when unset, empty or invalid (then warned
/// about), else its value, parsed and checked by the core ([`Field`]: the
/// one syntax and range for every front door; surrounding blanks and a `+`
/// are allowed, as `atoi` in libkeepalive 0.3 allows them).
fn number<'e>(
    lookup: &impl Fn(&str) -> Option<&'e [u8]>,
    name: &str,
    field: Field,
    warn: &mut impl FnMut(fmt::Arguments<'_>),
) -> Option<i64> {
    let raw = lookup(name).filter(|v| !v.is_empty())?;
    match field.parse(raw) {
        Ok(value) => Some(value),
        Err(e) => {
            warn(format_args!("ignoring {name}=\"{}\": {e}", Shown(raw)));
            None
        }
    }
}

/// A raw environment value for a message: escaped, and cut after 40 bytes
/// so that a huge value cannot flood the line.
struct Shown<'a>(&'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 40;
        let cut = &self.0[..self.0.len().min(MAX)];
        write!(f, "{}", cut.escape_ascii())?;
        if self.0.len() > MAX {
            f.write_str("...")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a fake environment; returns what it asks for and the warnings.
    fn read_vars(vars: &[(&str, &str)]) -> (Wanted, Vec<String>) {
        let mut warnings = Vec::new();
        let wanted = read(
            |name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.as_bytes())
            },
            |args| warnings.push(args.to_string()),
        );
        (wanted, warnings)
    }

    fn secs(n: u64) -> Option<Duration> {
        Some(Duration::from_secs(n))
    }

    #[test]
    fn nothing_set_turns_keepalive_on_and_changes_no_value() {
        let (w, warnings) = read_vars(&[]);
        assert_eq!(
            w,
            Wanted {
                enabled: true,
                keepalive: Config::new(),
                user_timeout: None,
                enforce: Enforce::Quiet,
            }
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn every_valid_value_is_taken() {
        let (w, warnings) = read_vars(&[
            ("KEEPIDLE", "60"),
            ("KEEPINTVL", " 10 "),
            ("KEEPCNT", "+5"),
            ("KEEPALIVE_USER_TIMEOUT_MS", "7000"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(w.enabled);
        assert_eq!(w.keepalive.idle, secs(60));
        assert_eq!(w.keepalive.interval, secs(10));
        assert_eq!(w.keepalive.count, Some(5));
        assert_eq!(w.user_timeout, Some(Duration::from_millis(7000)));
    }

    #[test]
    fn limits_are_accepted() {
        let (w, warnings) = read_vars(&[
            ("KEEPIDLE", "32767"),
            ("KEEPINTVL", "1"),
            ("KEEPCNT", "127"),
            ("KEEPALIVE_USER_TIMEOUT_MS", "0"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(w.keepalive.idle, secs(32767));
        assert_eq!(w.keepalive.interval, secs(1));
        assert_eq!(w.keepalive.count, Some(127));
        assert_eq!(w.user_timeout, Some(Duration::ZERO));
    }

    #[test]
    fn keepalive_off_in_any_case_turns_it_off() {
        for v in ["off", "OFF", "Off"] {
            let (w, warnings) = read_vars(&[("KEEPALIVE", v), ("KEEPIDLE", "60")]);
            assert!(!w.enabled, "{v}");
            assert!(warnings.is_empty());
        }
        for v in ["on", "ON", ""] {
            let (w, warnings) = read_vars(&[("KEEPALIVE", v)]);
            assert!(w.enabled, "{v}");
            assert!(warnings.is_empty());
        }
    }

    #[test]
    fn unknown_keepalive_value_warns_and_stays_on() {
        for v in ["0", "no", " off", "offf"] {
            let (w, warnings) = read_vars(&[("KEEPALIVE", v)]);
            assert!(w.enabled, "{v}");
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("KEEPALIVE must be on or off"));
        }
    }

    /// Each bad value: one warning naming the variable and the range, the
    /// value ignored, the other values kept.
    #[test]
    fn each_invalid_value_warns_once_and_is_ignored() {
        let cases = [
            ("KEEPIDLE", "0", "idle must be 1..32767 seconds, got 0"),
            (
                "KEEPIDLE",
                "40000",
                "idle must be 1..32767 seconds, got 40000",
            ),
            ("KEEPIDLE", "-5", "idle must be 1..32767 seconds, got -5"),
            (
                "KEEPIDLE",
                "abc",
                "idle must be 1..32767 seconds, got \"abc\"",
            ),
            (
                "KEEPIDLE",
                "10x",
                "idle must be 1..32767 seconds, got \"10x\"",
            ),
            (
                "KEEPIDLE",
                "1.5",
                "idle must be 1..32767 seconds, got \"1.5\"",
            ),
            (
                "KEEPIDLE",
                "99999999999999999999",
                "idle must be 1..32767 seconds, got 99999999999999999999",
            ),
            (
                "KEEPINTVL",
                "32768",
                "interval must be 1..32767 seconds, got 32768",
            ),
            ("KEEPCNT", "128", "count must be 1..127 probes, got 128"),
            (
                "KEEPCNT",
                "many",
                "count must be 1..127 probes, got \"many\"",
            ),
            (
                "KEEPALIVE_USER_TIMEOUT_MS",
                "-1",
                "user_timeout must be 0..2147483647 milliseconds, got -1",
            ),
            (
                "KEEPALIVE_USER_TIMEOUT_MS",
                "2147483648",
                "user_timeout must be 0..2147483647 milliseconds, got 2147483648",
            ),
            (
                "KEEPALIVE_USER_TIMEOUT_MS",
                "5s",
                "user_timeout must be 0..2147483647 milliseconds, got \"5s\"",
            ),
        ];
        for (name, value, expected) in cases {
            let mut vars = vec![
                ("KEEPIDLE", "60"),
                ("KEEPINTVL", "10"),
                ("KEEPCNT", "5"),
                ("KEEPALIVE_USER_TIMEOUT_MS", "7000"),
            ];
            vars.retain(|(n, _)| *n != name);
            vars.push((name, value));
            let (w, warnings) = read_vars(&vars);
            assert_eq!(warnings.len(), 1, "{name}={value}: {warnings:?}");
            assert_eq!(
                warnings[0],
                format!("ignoring {name}=\"{value}\": {expected}"),
                "{name}={value}"
            );
            assert!(w.enabled);
            let c = w.keepalive;
            assert_eq!(c.idle, if name == "KEEPIDLE" { None } else { secs(60) });
            assert_eq!(
                c.interval,
                if name == "KEEPINTVL" { None } else { secs(10) }
            );
            assert_eq!(c.count, if name == "KEEPCNT" { None } else { Some(5) });
            let ut = w.user_timeout;
            let expected_ut = Some(Duration::from_millis(7000));
            assert_eq!(
                ut,
                if name.ends_with("_MS") {
                    None
                } else {
                    expected_ut
                }
            );
        }
    }

    #[test]
    fn every_variable_bad_gives_one_warning_each() {
        let (w, warnings) = read_vars(&[
            ("KEEPALIVE", "maybe"),
            ("KEEPIDLE", "x"),
            ("KEEPINTVL", "0"),
            ("KEEPCNT", "1000"),
            ("KEEPALIVE_USER_TIMEOUT_MS", "-3"),
        ]);
        assert_eq!(warnings.len(), 5, "{warnings:?}");
        for (warning, name) in warnings.iter().zip([
            "KEEPALIVE=",
            "KEEPIDLE=",
            "KEEPINTVL=",
            "KEEPCNT=",
            "KEEPALIVE_USER_TIMEOUT_MS=",
        ]) {
            assert!(warning.contains(name), "{warning} should name {name}");
        }
        assert_eq!(w.keepalive, Config::new());
        assert_eq!(w.user_timeout, None);
    }

    #[test]
    fn a_deadline_stands_for_all_four() {
        let (w, warnings) = read_vars(&[("KEEPALIVE_DEADLINE", "60")]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(w.enabled);
        assert_eq!(
            (w.keepalive.idle, w.keepalive.interval, w.keepalive.count),
            (secs(30), secs(10), Some(3))
        );
        // Applied on its own, after keepalive (MPTCP has none).
        assert_eq!(w.keepalive.user_timeout, None);
        assert_eq!(w.user_timeout, secs(60));
    }

    #[test]
    fn a_deadline_beside_separate_values_wins_with_one_warning() {
        let (w, warnings) = read_vars(&[
            ("KEEPALIVE_DEADLINE", "5"),
            ("KEEPIDLE", "60"),
            ("KEEPCNT", "junk"),
            ("KEEPALIVE_USER_TIMEOUT_MS", "9"),
        ]);
        assert_eq!(
            warnings,
            [
                "KEEPALIVE_DEADLINE=\"5\" sets idle, interval, count and the user timeout \
                 together; ignoring KEEPIDLE=\"60\" KEEPCNT=\"junk\" KEEPALIVE_USER_TIMEOUT_MS=\"9\""
            ]
        );
        assert_eq!(w.keepalive.idle, secs(2));
        assert_eq!(w.user_timeout, Some(Duration::from_millis(5000)));
    }

    #[test]
    fn a_bad_deadline_warns_and_the_separate_values_apply() {
        for (value, message) in [
            ("1", "deadline must be 2..131068 seconds, got 1"),
            ("131069", "deadline must be 2..131068 seconds, got 131069"),
            ("5s", "deadline must be 2..131068 seconds, got \"5s\""),
            (
                "99999999999999999999",
                "deadline must be 2..131068 seconds, got 99999999999999999999",
            ),
        ] {
            let (w, warnings) = read_vars(&[("KEEPALIVE_DEADLINE", value), ("KEEPIDLE", "60")]);
            assert_eq!(
                warnings,
                [format!(
                    "ignoring KEEPALIVE_DEADLINE=\"{value}\": {message}"
                )]
            );
            assert_eq!(w.keepalive.idle, secs(60));
            assert_eq!(w.user_timeout, None);
        }
    }

    #[test]
    fn max_idle_shapes_the_deadline() {
        let (w, warnings) =
            read_vars(&[("KEEPALIVE_DEADLINE", "60"), ("KEEPALIVE_MAX_IDLE", "20")]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            (w.keepalive.idle, w.keepalive.interval, w.keepalive.count),
            (secs(14), secs(2), Some(23))
        );
        assert_eq!(w.user_timeout, secs(60));
    }

    #[test]
    fn a_max_idle_that_cannot_hold_or_has_no_deadline_warns_and_is_ignored() {
        let (w, warnings) = read_vars(&[
            ("KEEPALIVE_DEADLINE", "100000"),
            ("KEEPALIVE_MAX_IDLE", "60"),
        ]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0]
                .starts_with("ignoring KEEPALIVE_MAX_IDLE=\"60\": max_idle must be at least"),
            "{warnings:?}"
        );
        assert!(
            warnings[0].contains("with deadline 100000 seconds"),
            "{warnings:?}"
        );
        // The deadline applies as it is.
        assert_eq!(w.user_timeout, secs(100_000));
        assert_eq!(w.keepalive.count, Some(3));
        let (w, warnings) = read_vars(&[("KEEPALIVE_MAX_IDLE", "20"), ("KEEPIDLE", "60")]);
        assert_eq!(
            warnings,
            ["ignoring KEEPALIVE_MAX_IDLE=\"20\": it shapes a deadline; set KEEPALIVE_DEADLINE with it"]
        );
        assert_eq!(w.keepalive.idle, secs(60));
        let (w, warnings) = read_vars(&[("KEEPALIVE_DEADLINE", "60"), ("KEEPALIVE_MAX_IDLE", "3")]);
        assert_eq!(
            warnings,
            ["ignoring KEEPALIVE_MAX_IDLE=\"3\": max_idle must be 5..4294967295 seconds, got 3"]
        );
        assert_eq!(w.keepalive.idle, secs(30));
    }

    #[test]
    fn keepalive_off_ignores_a_deadline_and_says_so() {
        let (w, warnings) = read_vars(&[("KEEPALIVE", "off"), ("KEEPALIVE_DEADLINE", "5")]);
        assert!(!w.enabled);
        assert_eq!(w.keepalive, Config::new());
        assert_eq!(w.user_timeout, None);
        assert_eq!(
            warnings,
            ["KEEPALIVE=off: ignoring KEEPALIVE_DEADLINE=\"5\" (a deadline is keepalive)"]
        );
    }

    #[test]
    fn empty_value_counts_as_unset() {
        let (w, warnings) = read_vars(&[("KEEPIDLE", ""), ("KEEPALIVE_USER_TIMEOUT_MS", "")]);
        assert!(warnings.is_empty());
        assert_eq!(w.keepalive.idle, None);
        assert_eq!(w.user_timeout, None);
    }

    #[test]
    fn odd_bytes_and_huge_values_are_escaped_and_cut() {
        let long = "9".repeat(500);
        let (_, warnings) = read_vars(&[("KEEPIDLE", "\u{1b}[31m"), ("KEEPCNT", &long)]);
        assert_eq!(warnings.len(), 2);
        assert!(warnings[0].contains("\\x1b[31m"), "{}", warnings[0]);
        assert!(!warnings[0].contains('\u{1b}'));
        assert!(warnings[1].len() < 200, "{}", warnings[1]);
        assert!(warnings[1].contains("..."));
    }

    #[test]
    fn keepalive_enforce_values() {
        for (v, want) in [
            ("1", Enforce::On),
            ("on", Enforce::On),
            ("ON", Enforce::On),
            ("0", Enforce::Tell),
            ("off", Enforce::Tell),
            ("", Enforce::Quiet),
        ] {
            let (w, warnings) = read_vars(&[("KEEPALIVE_ENFORCE", v)]);
            assert_eq!(w.enforce, want, "{v}");
            assert!(warnings.is_empty(), "{v}: {warnings:?}");
        }
        let (w, _) = read_vars(&[]);
        assert_eq!(w.enforce, Enforce::Quiet);
        let (w, warnings) = read_vars(&[("KEEPALIVE_ENFORCE", "yes")]);
        assert_eq!(w.enforce, Enforce::Quiet);
        assert_eq!(
            warnings,
            [
                "ignoring KEEPALIVE_ENFORCE=\"yes\": KEEPALIVE_ENFORCE must be 1 or 0; \
              the program's own keepalive calls win"
            ]
        );
    }
}

//! The environment of the `LD_PRELOAD` mode: the names of its variables,
//! how they are read ([`read`], for the preload library
//! `libkeepalive-preload.so`) and how a request becomes them
//! ([`assignments`], for `keepalive-run`). One contract for both sides, so a
//! name, a syntax or a precedence is never written twice.
//!
//! The classic libkeepalive 0.3 names come first; the rest are this
//! library's own. Each value is parsed and checked by [`Field`], and the
//! rules between them are [`Request`]'s.

use std::fmt;

use crate::{Config, Error, Field, Request};

/// `off` turns keepalive off for the program's sockets (libkeepalive 0.3).
pub const KEEPALIVE: &str = "KEEPALIVE";
/// Seconds idle before the first probe (libkeepalive 0.3).
pub const KEEPIDLE: &str = "KEEPIDLE";
/// Seconds between probes (libkeepalive 0.3).
pub const KEEPINTVL: &str = "KEEPINTVL";
/// Unanswered probes before the peer is declared dead (libkeepalive 0.3).
pub const KEEPCNT: &str = "KEEPCNT";
/// `TCP_USER_TIMEOUT` in milliseconds.
pub const USER_TIMEOUT: &str = "KEEPALIVE_USER_TIMEOUT_MS";
/// The dead-peer deadline in seconds; replaces the four values above.
pub const DEADLINE: &str = "KEEPALIVE_DEADLINE";
/// With [`DEADLINE`]: the silence a middlebox on the path tolerates.
pub const MAX_IDLE: &str = "KEEPALIVE_MAX_IDLE";
/// With [`DEADLINE`]: how many unanswered probes it spends.
pub const PROBES: &str = "KEEPALIVE_PROBES";
/// `1`: the program's own keepalive `setsockopt` calls get the configured
/// values; `0`: they win, and each override is named once.
pub const ENFORCE: &str = "KEEPALIVE_ENFORCE";

/// The variable that carries each value of a [`Request`].
pub const fn name(field: Field) -> &'static str {
    match field {
        Field::Idle => KEEPIDLE,
        Field::Interval => KEEPINTVL,
        Field::Count => KEEPCNT,
        Field::UserTimeout => USER_TIMEOUT,
        Field::Deadline => DEADLINE,
        Field::MaxIdle => MAX_IDLE,
        Field::Probes => PROBES,
    }
}

/// What [`ENFORCE`] asks for the program's own keepalive `setsockopt`
/// calls (`SO_KEEPALIVE`, `TCP_KEEPIDLE`/`INTVL`/`CNT`, `TCP_USER_TIMEOUT`)
/// on a TCP socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforce {
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

/// What the environment asks every new TCP socket to get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wanted {
    /// `SO_KEEPALIVE` on, with `config` (false: `KEEPALIVE=off`, keepalive
    /// left alone, no keepalive value applied, as libkeepalive 0.3 does; a
    /// [`USER_TIMEOUT`] given on its own still is).
    pub enabled: bool,
    /// The values to apply: a deadline's split, or the separate values;
    /// each left `None` when unset or ignored.
    pub config: Config,
    /// What happens to the program's own keepalive calls.
    pub enforce: Enforce,
}

/// The numeric variables, in the order they are read (and warned about).
const NUMBERS: [Field; 7] = [
    Field::Deadline,
    Field::Probes,
    Field::MaxIdle,
    Field::Idle,
    Field::Interval,
    Field::Count,
    Field::UserTimeout,
];

/// Reads every variable through `lookup` (name -> raw bytes, `None` when
/// unset) and returns what they ask for. Nothing here allocates: values are
/// borrowed and parsed in place, and each warning is handed to `warn` as
/// [`fmt::Arguments`] (one line without its newline, naming the variable).
///
/// The rules, the same as every other door's but for one thing (this side
/// never refuses: a program must run whatever its environment says):
/// - an empty value counts as unset (`KEEPIDLE= program` unsets it for one
///   command);
/// - an invalid value gets one warning naming the variable and its range,
///   and is ignored; so does a value the [`Request`] rules refuse: a
///   separate value beside [`DEADLINE`] (the deadline sets them all), a
///   [`PROBES`] or [`MAX_IDLE`] without one or that the deadline cannot
///   keep: the value at fault is ignored, the rest applies;
/// - [`KEEPALIVE`]`=off` turns keepalive off and applies no keepalive value
///   (a deadline given then is named in a warning); [`USER_TIMEOUT`], not a
///   keepalive option, still applies.
///
/// ```
/// let vars = [("KEEPALIVE_DEADLINE", "60"), ("KEEPIDLE", "7")];
/// let mut warnings = Vec::new();
/// let wanted = keepalive::env::read(
///     |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes()),
///     |line| warnings.push(line.to_string()),
/// );
/// assert_eq!(wanted.config.user_timeout, Some(std::time::Duration::from_secs(60)));
/// assert_eq!(warnings, ["ignoring KEEPIDLE=\"7\": idle cannot be given with deadline: \
///     deadline sets idle, interval, count and user_timeout together"]);
/// ```
pub fn read<'e>(
    lookup: impl Fn(&str) -> Option<&'e [u8]>,
    mut warn: impl FnMut(fmt::Arguments<'_>),
) -> Wanted {
    let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
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
    let mut request = Request::new();
    for field in NUMBERS {
        if let Some(raw) = set(name(field)) {
            if let Err(e) = request.parse(field, raw) {
                warn(format_args!(
                    "ignoring {}=\"{}\": {e}",
                    name(field),
                    Shown(raw)
                ));
            }
        }
    }
    // The rules: the value at fault is ignored and the request tried again,
    // until what is left holds (each round clears one value, so this ends).
    let config = loop {
        match request.config() {
            Ok(config) => break config,
            Err(e) => match e.field().filter(|f| request.get(*f).is_some()) {
                Some(field) => {
                    let raw = set(name(field)).unwrap_or_default();
                    warn(format_args!(
                        "ignoring {}=\"{}\": {e}",
                        name(field),
                        Shown(raw)
                    ));
                    request.clear(field);
                }
                // Not a value's fault (none is left to blame): nothing applies.
                None => break Config::new(),
            },
        }
    };
    if !enabled {
        if let Some(raw) = request.deadline.and(set(DEADLINE)) {
            warn(format_args!(
                "{KEEPALIVE}=off: ignoring {DEADLINE}=\"{}\" (a deadline is keepalive)",
                Shown(raw)
            ));
        }
        // The user timeout is not a keepalive option: given on its own, it
        // still applies (a deadline's, being keepalive, does not).
        let user_timeout = config.user_timeout.filter(|_| request.deadline.is_none());
        return Wanted {
            enabled,
            config: Config {
                user_timeout,
                ..Config::new()
            },
            enforce,
        };
    }
    Wanted {
        enabled,
        config,
        enforce,
    }
}

/// The environment that asks the preload library for `request`: the
/// variables to set (with [`KEEPALIVE`]`=on` and [`ENFORCE`] `1` or `0`) and
/// those to remove, so that the request wins over values inherited from the
/// caller's environment (a deadline replaces inherited separate values,
/// separate values replace an inherited deadline). The request is checked
/// first ([`Request::check`]), so what the library would ignore is refused
/// here.
///
/// ```
/// let mut r = keepalive::Request::new();
/// r.deadline = Some(60);
/// r.max_idle = Some(20);
/// let keepalive::env::Assignments { set, unset } = keepalive::env::assignments(&r, false)?;
/// assert_eq!(set, [("KEEPALIVE", "on".to_string()), ("KEEPALIVE_DEADLINE", "60".into()),
///                  ("KEEPALIVE_MAX_IDLE", "20".into()), ("KEEPALIVE_ENFORCE", "0".into())]);
/// assert_eq!(unset, ["KEEPALIVE_PROBES", "KEEPIDLE", "KEEPINTVL", "KEEPCNT", "KEEPALIVE_USER_TIMEOUT_MS"]);
/// # Ok::<(), keepalive::Error>(())
/// ```
pub fn assignments(request: &Request, enforce: bool) -> Result<Assignments, Error> {
    request.check()?;
    let mut set = vec![(KEEPALIVE, "on".to_string())];
    let mut unset = Vec::new();
    for field in NUMBERS {
        let shapes = field == Field::Deadline || Field::SHAPE_A_DEADLINE.contains(&field);
        match request.get(field) {
            Some(value) => set.push((name(field), value.to_string())),
            // A deadline replaces every inherited value; separate values
            // replace an inherited deadline and what shapes it (which would
            // win over them), and keep the other inherited separate values.
            None if request.deadline.is_some() || shapes => unset.push(name(field)),
            None => {}
        }
    }
    set.push((ENFORCE, if enforce { "1" } else { "0" }.to_string()));
    Ok(Assignments { set, unset })
}

/// The environment [`assignments`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignments {
    /// Variables to set, with their values, in the order of this module.
    pub set: Vec<(&'static str, String)>,
    /// Variables to remove from the inherited environment.
    pub unset: Vec<&'static str>,
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
    use std::time::Duration;

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

    fn split(w: &Wanted) -> (Option<Duration>, Option<Duration>, Option<u32>) {
        (w.config.idle, w.config.interval, w.config.count)
    }

    #[test]
    fn nothing_set_turns_keepalive_on_and_changes_no_value() {
        let (w, warnings) = read_vars(&[]);
        assert_eq!(
            w,
            Wanted {
                enabled: true,
                config: Config::new(),
                enforce: Enforce::Quiet,
            }
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn every_valid_value_is_taken_limits_included() {
        for (vars, want) in [
            (
                [
                    ("KEEPIDLE", "60"),
                    ("KEEPINTVL", " 10 "),
                    ("KEEPCNT", "+5"),
                    (USER_TIMEOUT, "7000"),
                ],
                (60, 10, 5, 7000),
            ),
            (
                [
                    ("KEEPIDLE", "32767"),
                    ("KEEPINTVL", "1"),
                    ("KEEPCNT", "127"),
                    (USER_TIMEOUT, "0"),
                ],
                (32767, 1, 127, 0),
            ),
        ] {
            let (w, warnings) = read_vars(&vars);
            assert!(warnings.is_empty(), "{warnings:?}");
            assert!(w.enabled);
            assert_eq!(split(&w), (secs(want.0), secs(want.1), Some(want.2)));
            assert_eq!(w.config.user_timeout, Some(Duration::from_millis(want.3)));
        }
    }

    #[test]
    fn keepalive_on_or_off_in_any_case_and_anything_else_warns_and_stays_on() {
        for v in ["off", "OFF", "Off"] {
            let (w, warnings) = read_vars(&[("KEEPALIVE", v), ("KEEPIDLE", "60")]);
            assert!(!w.enabled, "{v}");
            assert_eq!(w.config, Config::new());
            assert!(warnings.is_empty());
        }
        for v in ["on", "ON", ""] {
            let (w, warnings) = read_vars(&[("KEEPALIVE", v)]);
            assert!(w.enabled, "{v}");
            assert!(warnings.is_empty());
        }
        for v in ["0", "no", " off", "offf"] {
            let (w, warnings) = read_vars(&[("KEEPALIVE", v)]);
            assert!(w.enabled, "{v}");
            assert_eq!(
                warnings,
                [format!(
                    "ignoring KEEPALIVE=\"{v}\": KEEPALIVE must be on or off; keepalive stays on"
                )]
            );
        }
    }

    /// Each bad value: one warning naming the variable and the range, the
    /// value ignored, the other values kept.
    #[test]
    fn each_invalid_value_warns_once_and_is_ignored() {
        let cases = [
            ("KEEPIDLE", "0", "idle must be 1..32767 seconds, got 0"),
            ("KEEPIDLE", "-5", "idle must be 1..32767 seconds, got -5"),
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
            (
                "KEEPCNT",
                "many",
                "count must be 1..127 probes, got \"many\"",
            ),
            (
                USER_TIMEOUT,
                "-1",
                "user_timeout must be 0..2147483647 milliseconds, got -1",
            ),
        ];
        for (name, value, expected) in cases {
            let mut vars = vec![
                ("KEEPIDLE", "60"),
                ("KEEPINTVL", "10"),
                ("KEEPCNT", "5"),
                (USER_TIMEOUT, "7000"),
            ];
            vars.retain(|(n, _)| *n != name);
            vars.push((name, value));
            let (w, warnings) = read_vars(&vars);
            assert_eq!(
                warnings,
                [format!("ignoring {name}=\"{value}\": {expected}")]
            );
            let c = w.config;
            assert_eq!(c.idle, if name == "KEEPIDLE" { None } else { secs(60) });
            assert_eq!(
                c.interval,
                if name == "KEEPINTVL" { None } else { secs(10) }
            );
            assert_eq!(c.count, if name == "KEEPCNT" { None } else { Some(5) });
            let ut = (name != USER_TIMEOUT).then(|| Duration::from_millis(7000));
            assert_eq!(c.user_timeout, ut);
        }
    }

    #[test]
    fn a_deadline_stands_for_all_four_and_excludes_each_given_beside_it() {
        let (w, warnings) = read_vars(&[("KEEPALIVE_DEADLINE", "60")]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(split(&w), (secs(30), secs(10), Some(3)));
        assert_eq!(w.config.user_timeout, secs(60));

        let (w, warnings) = read_vars(&[
            ("KEEPALIVE_DEADLINE", "5"),
            ("KEEPIDLE", "60"),
            ("KEEPCNT", "junk"),
            (USER_TIMEOUT, "9"),
        ]);
        let rule = "cannot be given with deadline: deadline sets idle, interval, count and \
                    user_timeout together";
        assert_eq!(
            warnings,
            [
                "ignoring KEEPCNT=\"junk\": count must be 1..127 probes, got \"junk\"".to_string(),
                format!("ignoring KEEPIDLE=\"60\": idle {rule}"),
                format!("ignoring KEEPALIVE_USER_TIMEOUT_MS=\"9\": user_timeout {rule}"),
            ]
        );
        assert_eq!(w.config.idle, secs(2));
        assert_eq!(w.config.user_timeout, secs(5));
    }

    #[test]
    fn a_bad_deadline_warns_and_the_separate_values_apply() {
        for (value, message) in [
            ("1", "deadline must be 2..131068 seconds, got 1"),
            ("131069", "deadline must be 2..131068 seconds, got 131069"),
            ("5s", "deadline must be 2..131068 seconds, got \"5s\""),
        ] {
            let (w, warnings) = read_vars(&[("KEEPALIVE_DEADLINE", value), ("KEEPIDLE", "60")]);
            assert_eq!(
                warnings,
                [format!(
                    "ignoring KEEPALIVE_DEADLINE=\"{value}\": {message}"
                )]
            );
            assert_eq!(w.config.idle, secs(60));
            assert_eq!(w.config.user_timeout, None);
        }
    }

    #[test]
    fn probes_and_max_idle_shape_the_deadline_or_are_ignored() {
        let (w, warnings) =
            read_vars(&[("KEEPALIVE_DEADLINE", "60"), ("KEEPALIVE_MAX_IDLE", "20")]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(split(&w), (secs(14), secs(2), Some(23)));
        let (w, warnings) = read_vars(&[("KEEPALIVE_DEADLINE", "60"), ("KEEPALIVE_PROBES", "5")]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(w.config.count, Some(5));

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
        assert_eq!(w.config.user_timeout, secs(100_000));
        let (w, warnings) = read_vars(&[("KEEPALIVE_MAX_IDLE", "20"), ("KEEPIDLE", "60")]);
        assert_eq!(
            warnings,
            ["ignoring KEEPALIVE_MAX_IDLE=\"20\": max_idle goes with deadline: give deadline too"]
        );
        assert_eq!(w.config.idle, secs(60));
        let (w, warnings) = read_vars(&[("KEEPALIVE_DEADLINE", "4"), ("KEEPALIVE_PROBES", "9")]);
        assert_eq!(
            warnings,
            ["ignoring KEEPALIVE_PROBES=\"9\": probes must be 1..3 probes for this deadline, got 9"]
        );
        assert_eq!(w.config.count, Some(3));
    }

    #[test]
    fn keepalive_off_ignores_a_deadline_and_says_so() {
        let (w, warnings) = read_vars(&[("KEEPALIVE", "off"), ("KEEPALIVE_DEADLINE", "5")]);
        assert!(!w.enabled);
        assert_eq!(w.config, Config::new());
        assert_eq!(
            warnings,
            ["KEEPALIVE=off: ignoring KEEPALIVE_DEADLINE=\"5\" (a deadline is keepalive)"]
        );
    }

    /// The preload library's documented behaviour (and 0.3's variables
    /// untouched): a user timeout is not keepalive, so it still applies.
    #[test]
    fn keepalive_off_keeps_a_user_timeout_given_on_its_own() {
        let (w, warnings) = read_vars(&[
            ("KEEPALIVE", "off"),
            ("KEEPIDLE", "60"),
            (USER_TIMEOUT, "3000"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(!w.enabled);
        assert_eq!(
            w.config,
            Config::new().user_timeout(Duration::from_millis(3000))
        );
    }

    #[test]
    fn empty_values_count_as_unset_and_odd_bytes_are_escaped_and_cut() {
        let (w, warnings) = read_vars(&[("KEEPIDLE", ""), (USER_TIMEOUT, "")]);
        assert!(warnings.is_empty());
        assert_eq!(w.config, Config::new());
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

    /// What `assignments` writes, the library reads back as the request.
    #[test]
    fn assignments_round_trip_through_read() {
        let requests = [
            Request {
                deadline: Some(60),
                probes: Some(4),
                max_idle: Some(40),
                ..Request::new()
            },
            Request {
                deadline: Some(5),
                ..Request::new()
            },
            Request {
                idle: Some(30),
                count: Some(4),
                user_timeout_ms: Some(0),
                ..Request::new()
            },
            Request::new(),
        ];
        // An inherited environment full of other values: the request wins.
        let inherited = [
            (DEADLINE, "900"),
            (PROBES, "2"),
            (MAX_IDLE, "350"),
            (KEEPIDLE, "7"),
            (KEEPINTVL, "8"),
            (KEEPCNT, "9"),
            (USER_TIMEOUT, "10"),
            (KEEPALIVE, "off"),
            (ENFORCE, "1"),
        ];
        for request in requests {
            let Assignments { set, unset } = assignments(&request, false).unwrap();
            let mut env: Vec<(&str, String)> =
                inherited.iter().map(|(n, v)| (*n, v.to_string())).collect();
            env.retain(|(n, _)| !unset.contains(n) && !set.iter().any(|(s, _)| s == n));
            env.extend(set.iter().cloned());
            let vars: Vec<(&str, &str)> = env.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let (w, warnings) = read_vars(&vars);
            assert!(warnings.is_empty(), "{request:?}: {warnings:?}");
            assert!(w.enabled);
            assert_eq!(w.enforce, Enforce::Tell);
            if request.deadline.is_some() {
                assert_eq!(w.config, request.config().unwrap(), "{request:?}");
            } else {
                // Separate values given replace the inherited ones, the rest stay.
                for (field, value) in request.given() {
                    assert_eq!(
                        vars.iter().find(|(n, _)| *n == name(field)).unwrap().1,
                        value.to_string()
                    );
                }
                assert!(!vars
                    .iter()
                    .any(|(n, _)| [DEADLINE, PROBES, MAX_IDLE].contains(n)));
            }
        }
        let refused = Request {
            deadline: Some(60),
            idle: Some(5),
            ..Request::new()
        };
        assert!(matches!(
            assignments(&refused, true),
            Err(Error::Excludes { .. })
        ));
    }

    #[test]
    fn every_field_has_its_own_variable() {
        let mut names: Vec<_> = Field::ALL.map(name).to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Field::ALL.len());
    }
}

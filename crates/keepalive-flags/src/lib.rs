//! The command-line options of `keepalive` (`set`, `cgroup attach`,
//! `defaults set`, `show --max-idle`), `keepalive run` and `keepalive-run`,
//! each defined once with its doc ([`defs`]), as ripgrep's `flags/defs.rs`
//! does: the help texts and manual pages of every door are generated from
//! these definitions ([`text`]), with the ranges from the core
//! ([`Field::range_text`]), never retyped.
//!
//! No parser lives here: the operator's tool builds clap arguments from the
//! definitions, keepalive-run reads them with lexopt. Both turn what was
//! typed into the core's [`Request`] at once ([`take`]), which owns every
//! rule between the values.
//!
//! ```
//! use keepalive_flags::{by_long, by_short, take, TUNING};
//! let mut request = keepalive::Request::new();
//! take(&mut request, by_short(&TUNING, 'D').unwrap(), "60")?;
//! take(&mut request, by_long(&TUNING, "max-idle").unwrap(), "350")?;
//! assert_eq!((request.deadline, request.max_idle), (Some(60), Some(350)));
//! # Ok::<(), keepalive::Error>(())
//! ```

use keepalive::{Error, Field, Request};

pub mod defs;
pub mod text;

pub use defs::{
    Flag, COUNT, DEADLINE, ENFORCE, IDLE, INTERVAL, MAX_IDLE, PROBES, SYSTEM_DEFAULTS, TUNING,
    USER_TIMEOUT,
};

/// The flag of `set` spelled `-c`, if any.
pub fn by_short(set: &[&'static Flag], c: char) -> Option<&'static Flag> {
    set.iter().copied().find(|f| f.short == Some(c))
}

/// The flag of `set` spelled `--name`, if any.
pub fn by_long(set: &[&'static Flag], name: &str) -> Option<&'static Flag> {
    set.iter().copied().find(|f| f.long == name)
}

/// The flag of `set` that gives the core's `field`, if any: how a door
/// names, in its own spelling, the value an error is about
/// ([`Error::field`]).
pub fn by_field(set: &[&'static Flag], field: Field) -> Option<&'static Flag> {
    set.iter().copied().find(|f| f.field == Some(field))
}

/// Records `text`, typed for `flag`, in `request`: parsed and range-checked
/// by the core ([`Request::parse`]). The rules between the values are the
/// request's, checked once all are in ([`Request::check`]). A switch
/// (`--enforce`) gives no value: it leaves `request` as it is.
pub fn take(request: &mut Request, flag: &Flag, text: impl AsRef<[u8]>) -> Result<(), Error> {
    match flag.field {
        Some(field) => request.parse(field, text),
        None => Ok(()),
    }
}

/// `err` with the flag it is about in front, as keepalive-run words a bad
/// value (`-c: count must be 1..127 probes, got 500`); as it is when no
/// flag of `set` gives that value.
pub fn prefixed(set: &[&'static Flag], err: &Error) -> String {
    match err.field().and_then(|f| by_field(set, f)) {
        Some(flag) => format!("{}: {err}", flag.name()),
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every flag's value goes to the core's field of the same meaning, with
    /// the core's range and message (when the value is taken, or, for a
    /// deadline that more probes would allow, when the request is checked).
    #[test]
    fn values_are_the_core_s() {
        for flag in TUNING {
            let field = flag.field.unwrap();
            let mut r = Request::new();
            take(&mut r, flag, field.min().to_string()).unwrap();
            assert_eq!(r.get(field), Some(field.min()), "{}", flag.long);
            for outside in [field.min() - 1, field.max() + 1] {
                let mut r = Request::new();
                let err = take(&mut r, flag, outside.to_string())
                    .and_then(|()| r.check())
                    .unwrap_err();
                assert_eq!(
                    prefixed(&TUNING, &err),
                    format!(
                        "{}: {} must be {}, got {outside}",
                        flag.name(),
                        field.name(),
                        field.range_text()
                    )
                );
            }
        }
        let mut r = Request::new();
        take(&mut r, &ENFORCE, "").unwrap();
        assert_eq!(r, Request::new());
    }

    #[test]
    fn lookups() {
        assert_eq!(by_short(&TUNING, 'd'), Some(&IDLE));
        assert_eq!(by_short(&TUNING, 'x'), None);
        assert_eq!(by_long(&TUNING, "user-timeout"), Some(&USER_TIMEOUT));
        assert_eq!(by_long(&SYSTEM_DEFAULTS, "deadline"), None);
        assert_eq!(by_field(&TUNING, Field::Probes), Some(&PROBES));
    }
}

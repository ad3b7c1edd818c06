//! Values given as text: one syntax and one message for every front door
//! that reads numbers from a command line or the environment.

use crate::{limits, user_timeout_from_millis, Config, Deadline, Error, Given};

/// One of the values a front door may receive as text: a command-line
/// option (`keepalive-run -d 60`, `keepalive set -D 5`, the C examples), an
/// environment variable (`KEEPIDLE=60`), a Python `int` too large for any
/// integer type.
///
/// [`Field::parse`] is the one syntax, [`Field::check`] the one range check,
/// and their errors the one message: `idle must be 1..32767 seconds, got
/// 40000`, with what was given shown as given (`got 99999999999999999999`,
/// `got "abc"`).
///
/// ```
/// use keepalive::Field;
/// assert_eq!(Field::Idle.parse("60")?, 60);
/// assert_eq!(Field::Count.parse(" +5 ")?, 5);
/// assert_eq!(Field::Deadline.parse("1").unwrap_err().to_string(),
///            "deadline must be 2..131068 seconds, got 1");
/// assert_eq!(Field::UserTimeout.parse("5s").unwrap_err().to_string(),
///            r#"user_timeout must be 0..2147483647 milliseconds, got "5s""#);
/// assert_eq!(Field::from_name("interval"), Some(Field::Interval));
/// # Ok::<(), keepalive::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `TCP_KEEPIDLE`, seconds (1..=32767).
    Idle,
    /// `TCP_KEEPINTVL`, seconds (1..=32767).
    Interval,
    /// `TCP_KEEPCNT`, probes (1..=127).
    Count,
    /// `TCP_USER_TIMEOUT`, milliseconds (0..=2147483647).
    UserTimeout,
    /// A dead-peer deadline ([`Deadline`]), seconds, with the default
    /// probes (2..=131068).
    Deadline,
    /// The silence a middlebox on the path tolerates
    /// ([`Deadline::max_idle`]), seconds (5..=4294967295), checked on its
    /// own; the deadline checks it again with its probes.
    MaxIdle,
    /// How many unanswered probes a deadline spends
    /// ([`Deadline::probes`]), 1..=127, checked on its own; the deadline
    /// checks it again against its length.
    Probes,
}

impl Field {
    /// Every field, in the order above.
    pub const ALL: [Field; 7] = [
        Field::Idle,
        Field::Interval,
        Field::Count,
        Field::UserTimeout,
        Field::Deadline,
        Field::MaxIdle,
        Field::Probes,
    ];

    /// The values a deadline sets itself, so that none of them can be given
    /// with it ([`Request`](crate::Request)).
    pub const SET_BY_DEADLINE: [Field; 4] = [
        Field::Idle,
        Field::Interval,
        Field::Count,
        Field::UserTimeout,
    ];

    /// The values that only shape a deadline, so that each needs one
    /// ([`Request`](crate::Request)).
    pub const SHAPE_A_DEADLINE: [Field; 2] = [Field::Probes, Field::MaxIdle];

    /// The field's name in messages: `"idle"`, `"interval"`, `"count"`,
    /// `"user_timeout"`, `"deadline"`, `"max_idle"`.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Idle => "idle",
            Field::Interval => "interval",
            Field::Count => "count",
            Field::UserTimeout => "user_timeout",
            Field::Deadline => "deadline",
            Field::MaxIdle => "max_idle",
            Field::Probes => "probes",
        }
    }

    /// The smallest value [`check`](Self::check) accepts, in
    /// [`unit`](Self::unit)s.
    ///
    /// ```
    /// use keepalive::{limits, Field};
    /// assert_eq!((Field::Deadline.min(), Field::UserTimeout.min()), (limits::MIN_DEADLINE_SECS, 0));
    /// ```
    pub const fn min(self) -> i64 {
        match self {
            Field::Idle | Field::Interval | Field::Count | Field::Probes => 1,
            Field::UserTimeout => 0,
            Field::Deadline => limits::MIN_DEADLINE_SECS,
            Field::MaxIdle => limits::MIN_MAX_IDLE_SECS,
        }
    }

    /// The largest value [`check`](Self::check) accepts, in
    /// [`unit`](Self::unit)s. For [`Field::Deadline`] that is with the
    /// default 3 probes; more probes allow a longer deadline (up to
    /// [`limits::MAX_DEADLINE_SECS`]), which [`Deadline`] checks.
    ///
    /// ```
    /// use keepalive::{limits, Field};
    /// assert_eq!(Field::Idle.max(), limits::MAX_IDLE_SECS);
    /// assert_eq!(Field::Deadline.max(), 131_068);
    /// ```
    pub const fn max(self) -> i64 {
        match self {
            Field::Idle => limits::MAX_IDLE_SECS,
            Field::Interval => limits::MAX_INTERVAL_SECS,
            Field::Count | Field::Probes => limits::MAX_COUNT,
            Field::UserTimeout => limits::MAX_USER_TIMEOUT_MS,
            Field::Deadline => crate::deadline::max_deadline_secs(crate::deadline::DEFAULT_PROBES),
            Field::MaxIdle => limits::MAX_MAX_IDLE_SECS,
        }
    }

    /// The unit of the value: `"seconds"`, `"probes"` or `"milliseconds"`.
    pub const fn unit(self) -> &'static str {
        match self {
            Field::Count | Field::Probes => "probes",
            Field::UserTimeout => "milliseconds",
            _ => "seconds",
        }
    }

    /// The range as the help texts and messages print it, built from
    /// [`min`](Self::min), [`max`](Self::max) and [`unit`](Self::unit):
    ///
    /// ```
    /// assert_eq!(keepalive::Field::Idle.range_text(), "1..32767 seconds");
    /// assert_eq!(keepalive::Field::Probes.range_text(), "1..127 probes");
    /// ```
    pub fn range_text(self) -> String {
        format!("{}..{} {}", self.min(), self.max(), self.unit())
    }

    /// The field of that [`name`](Self::name), if any.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Checks `value` against the field's range (the same check as
    /// everywhere: [`Config::from_secs`], [`user_timeout_from_millis`],
    /// [`Deadline::from_secs`]) and returns it.
    pub fn check(self, value: i64) -> Result<i64, Error> {
        match self {
            Field::Idle => Config::from_secs(Some(value), None, None).map(drop),
            Field::Interval => Config::from_secs(None, Some(value), None).map(drop),
            Field::Count => Config::from_secs(None, None, Some(value)).map(drop),
            Field::UserTimeout => user_timeout_from_millis(value).map(drop),
            Field::Deadline => Deadline::from_secs(value, None).map(drop),
            Field::MaxIdle => {
                crate::deadline::check_max_idle(Given::Int(value), u64::try_from(value).ok())
                    .map(drop)
            }
            Field::Probes if (self.min()..=self.max()).contains(&value) => Ok(()),
            Field::Probes => Err(Error::InvalidValue {
                name: self.name(),
                given: Given::Int(value),
                min: self.min(),
                max: self.max(),
                unit: self.unit(),
            }),
        }
        .map(|()| value)
    }

    /// Parses `text` as a whole number in decimal (ASCII blanks around it
    /// and a `+` or `-` sign allowed, nothing else) and checks it. A number
    /// too large for any integer type is out of range like any other, and
    /// text that is no number is refused with the range too; both errors show
    /// the text as given. `text` may be any bytes (an environment variable).
    pub fn parse(self, text: impl AsRef<[u8]>) -> Result<i64, Error> {
        match number(text.as_ref()) {
            Some(n) => self.check(n),
            // i64::MIN is out of every field's range: the check gives the
            // field's range, shown with what was given.
            None => Err(match self.check(i64::MIN) {
                Err(e) => e.given_as(trim_ascii(text.as_ref())),
                Ok(_) => unreachable_range(),
            }),
        }
    }
}

/// The number `text` holds in [`Field::parse`]'s syntax, if it is one that
/// an `i64` holds.
pub(crate) fn number(text: &[u8]) -> Option<i64> {
    // `i64::from_str`: an optional sign, then decimal digits only.
    std::str::from_utf8(trim_ascii(text))
        .ok()
        .and_then(|t| t.parse::<i64>().ok())
}

/// `raw` without ASCII whitespace around it (`<[u8]>::trim_ascii` needs a
/// newer Rust than this crate's minimum).
fn trim_ascii(raw: &[u8]) -> &[u8] {
    let start = raw
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &raw[start..end]
}

/// `check(i64::MIN)` is refused by every field; should a future field take
/// it, this keeps the message honest instead of panicking.
fn unreachable_range() -> Error {
    Error::InvalidValue {
        name: "value",
        given: Given::Int(i64::MIN),
        min: 0,
        max: limits::MAX_USER_TIMEOUT_MS,
        unit: "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_range_and_the_syntax() {
        assert_eq!(Field::Idle.parse("32767").unwrap(), 32767);
        for (text, value) in [
            ("60", 60),
            (" 60", 60),
            ("60\n", 60),
            ("+60", 60),
            ("0060", 60),
        ] {
            assert_eq!(Field::Idle.parse(text).unwrap(), value, "{text:?}");
        }
        assert_eq!(Field::UserTimeout.parse("0").unwrap(), 0);
        assert_eq!(Field::Deadline.parse("131068").unwrap(), 131068);
        assert_eq!(Field::MaxIdle.parse("350").unwrap(), 350);
        assert_eq!(Field::MaxIdle.parse("4294967295").unwrap(), 4294967295);
    }

    #[test]
    fn every_refusal_names_the_range_and_what_was_given() {
        let cases = [
            (Field::Idle, "0", "idle must be 1..32767 seconds, got 0"),
            (Field::Idle, "-5", "idle must be 1..32767 seconds, got -5"),
            (
                Field::Interval,
                "40000",
                "interval must be 1..32767 seconds, got 40000",
            ),
            (Field::Count, "128", "count must be 1..127 probes, got 128"),
            (
                Field::Count,
                "abc",
                "count must be 1..127 probes, got \"abc\"",
            ),
            (
                Field::Count,
                "1.5",
                "count must be 1..127 probes, got \"1.5\"",
            ),
            (Field::Count, "", "count must be 1..127 probes, got \"\""),
            (Field::Count, "+", "count must be 1..127 probes, got \"+\""),
            (
                Field::Count,
                "1 2",
                "count must be 1..127 probes, got \"1 2\"",
            ),
            (
                Field::Count,
                "0x10",
                "count must be 1..127 probes, got \"0x10\"",
            ),
            (
                Field::UserTimeout,
                "99999999999999999999",
                "user_timeout must be 0..2147483647 milliseconds, got 99999999999999999999",
            ),
            (
                Field::UserTimeout,
                "-99999999999999999999",
                "user_timeout must be 0..2147483647 milliseconds, got -99999999999999999999",
            ),
            (
                Field::UserTimeout,
                "4294967296",
                "user_timeout must be 0..2147483647 milliseconds, got 4294967296",
            ),
            (
                Field::Deadline,
                "1",
                "deadline must be 2..131068 seconds, got 1",
            ),
            (
                Field::Deadline,
                "5s",
                "deadline must be 2..131068 seconds, got \"5s\"",
            ),
            (
                Field::MaxIdle,
                "4",
                "max_idle must be 5..4294967295 seconds, got 4",
            ),
            (
                Field::MaxIdle,
                "4294967296",
                "max_idle must be 5..4294967295 seconds, got 4294967296",
            ),
            (
                Field::MaxIdle,
                "5m",
                "max_idle must be 5..4294967295 seconds, got \"5m\"",
            ),
        ];
        for (field, text, message) in cases {
            let err = field.parse(text).unwrap_err();
            assert!(matches!(err, Error::InvalidValue { .. }), "{err:?}");
            assert_eq!(err.to_string(), message, "{field:?} {text:?}");
        }
    }

    #[test]
    fn odd_bytes_are_escaped_and_long_text_cut() {
        let err = Field::Idle.parse(b"\x1b[31m\xff").unwrap_err();
        assert_eq!(
            err.to_string(),
            "idle must be 1..32767 seconds, got \"\\x1b[31m\\xff\""
        );
        let long = "9".repeat(500);
        let text = Field::Count.parse(&long).unwrap_err().to_string();
        assert_eq!(
            text,
            format!("count must be 1..127 probes, got {}...", "9".repeat(40))
        );
    }

    #[test]
    fn names_round_trip() {
        for field in Field::ALL {
            assert_eq!(Field::from_name(field.name()), Some(field));
        }
        assert_eq!(Field::from_name("probes"), Some(Field::Probes));
        assert_eq!(Field::from_name("user_timeout_ms"), None);
    }

    #[test]
    fn the_ranges_are_the_checks() {
        for field in Field::ALL {
            assert_eq!(field.check(field.min()).unwrap(), field.min(), "{field:?}");
            assert_eq!(field.check(field.max()).unwrap(), field.max(), "{field:?}");
            for outside in [field.min() - 1, field.max() + 1] {
                let err = field.check(outside).unwrap_err();
                assert_eq!(
                    err.to_string(),
                    format!(
                        "{} must be {}, got {outside}",
                        field.name(),
                        field.range_text()
                    ),
                );
                assert_eq!(err.field(), Some(field));
            }
        }
    }
}

//! The one error type of the crate.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::Field;

/// A value as the caller gave it, kept for the error message.
///
/// Stored without allocation so that an error on a hot path (the preload
/// library's `socket()`) costs nothing but the value itself.
///
/// ```
/// use keepalive::{Config, Error, Given};
/// let err = Config::from_secs(Some(-3), None, None).unwrap_err();
/// assert!(matches!(err, Error::InvalidValue { given: Given::Int(-3), .. }));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Given {
    /// A plain integer (seconds, a count, or milliseconds).
    Int(i64),
    /// A [`Duration`], as given to [`Config::idle`](crate::Config::idle) and friends.
    Duration(Duration),
    /// Text that is no number in range of any integer type, as given to
    /// [`Field::parse`](crate::Field::parse) (a command-line argument, an
    /// environment variable).
    Text(GivenText),
}

impl fmt::Display for Given {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Given::Int(n) => write!(f, "{n}"),
            Given::Duration(d) => write!(f, "{d:?}"),
            Given::Text(t) => t.fmt(f),
        }
    }
}

/// Text as the caller gave it, kept inline (no allocation) for a message:
/// up to 40 bytes, the rest cut. Displayed as written when it is a whole
/// number (one too large for any integer type), otherwise in quotes with
/// unprintable bytes escaped.
///
/// ```
/// let err = keepalive::Field::Count.parse("99999999999999999999").unwrap_err();
/// assert_eq!(err.to_string(), "count must be 1..127 probes, got 99999999999999999999");
/// let err = keepalive::Field::Count.parse("a\x1b[31m").unwrap_err();
/// assert_eq!(err.to_string(), r#"count must be 1..127 probes, got "a\x1b[31m""#);
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct GivenText {
    bytes: [u8; GivenText::MAX],
    len: u8,
    cut: bool,
    number: bool,
}

impl GivenText {
    const MAX: usize = 40;

    /// Keeps `text` (its first 40 bytes); a whole number (an optional sign,
    /// then digits) is shown as written, anything else in quotes.
    pub(crate) fn new(text: &[u8]) -> Self {
        let digits = text
            .strip_prefix(b"+")
            .or_else(|| text.strip_prefix(b"-"))
            .unwrap_or(text);
        let number = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
        let len = text.len().min(Self::MAX);
        let mut bytes = [0; Self::MAX];
        bytes[..len].copy_from_slice(&text[..len]);
        GivenText {
            bytes,
            len: len as u8,
            cut: text.len() > Self::MAX,
            number,
        }
    }

    /// The bytes kept (the first 40 of what was given).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for GivenText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GivenText({self})")
    }
}

impl fmt::Display for GivenText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.as_bytes().escape_ascii();
        let more = if self.cut { "..." } else { "" };
        if self.number {
            write!(f, "{shown}{more}")
        } else {
            write!(f, "\"{shown}{more}\"")
        }
    }
}

/// Why a call failed.
///
/// An invalid value (which value, what was given, which range) is told apart
/// from a refusal by the operating system (which option, with its
/// [`io::Error`]), and from an option the platform does not have at all.
///
/// ```
/// use std::time::Duration;
/// let sock = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let err = keepalive::set(&sock, &keepalive::Config::new().count(500)).unwrap_err();
/// assert_eq!(err.to_string(), "count must be 1..127 probes, got 500");
/// assert!(matches!(err, keepalive::Error::InvalidValue { name: "count", .. }));
/// assert_eq!(std::io::Error::from(err).kind(), std::io::ErrorKind::InvalidInput);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A value outside what the kernel accepts; nothing was applied.
    InvalidValue {
        /// Which value: `"idle"`, `"interval"`, `"count"` or `"user_timeout"`.
        name: &'static str,
        /// What the caller gave.
        given: Given,
        /// The smallest value allowed, in `unit`s.
        min: i64,
        /// The largest value allowed, in `unit`s.
        max: i64,
        /// `"seconds"`, `"probes"` or `"milliseconds"`.
        unit: &'static str,
    },
    /// The operating system refused a call (not a socket, not a TCP socket,
    /// a closed descriptor, ...). `option` names the socket option or file
    /// involved, e.g. `"TCP_KEEPIDLE"`.
    Os {
        /// The option (or file) the failing call was about.
        option: &'static str,
        /// The error the kernel returned.
        source: io::Error,
    },
    /// A value in its range that cannot hold together with the others: a
    /// `max_idle` the deadline cannot keep with its probes (the split would
    /// need a shorter idle than 1 s, or more probes than allowed); nothing
    /// was applied. The message names both values and the shortest
    /// `max_idle` that would hold:
    /// `max_idle must be at least 27 seconds with deadline 60 seconds and
    /// 3 probes, got 10`.
    Conflict {
        /// Which value gives way: `"max_idle"`.
        name: &'static str,
        /// What the caller gave.
        given: Given,
        /// The smallest value of `name` that holds with the others, in `unit`s.
        min: i64,
        /// `"seconds"`.
        unit: &'static str,
        /// The deadline it conflicts with, in seconds.
        deadline: u64,
        /// The probes the caller gave; `None` when the split chose them
        /// (every count up to `max_probes` was tried).
        probes: Option<u32>,
        /// The most probes this deadline allows.
        max_probes: u32,
    },
    /// Two values given together where one excludes the other: a deadline
    /// sets idle, interval, count and the user timeout itself, so none of
    /// them can be given with it ([`Request`](crate::Request)). `field` is
    /// the value at fault; nothing was applied.
    ///
    /// ```
    /// let mut r = keepalive::Request::new();
    /// r.deadline = Some(60);
    /// r.count = Some(5);
    /// let err = r.config().unwrap_err();
    /// assert!(matches!(err, keepalive::Error::Excludes { field: keepalive::Field::Count, .. }));
    /// assert_eq!(err.to_string(), "count cannot be given with deadline: \
    ///     deadline sets idle, interval, count and user_timeout together");
    /// ```
    Excludes {
        /// The value given that cannot be.
        field: Field,
        /// The value that excludes it: [`Field::Deadline`].
        by: Field,
    },
    /// A value given without the one it shapes: `probes` and `max_idle`
    /// shape a deadline ([`Request`](crate::Request)); nothing was applied.
    ///
    /// ```
    /// let mut r = keepalive::Request::new();
    /// r.max_idle = Some(350);
    /// assert_eq!(r.config().unwrap_err().to_string(),
    ///            "max_idle goes with deadline: give deadline too");
    /// ```
    Requires {
        /// The value given alone.
        field: Field,
        /// The value it needs: [`Field::Deadline`].
        needs: Field,
    },
    /// This platform has no such option (for example `TCP_USER_TIMEOUT` on
    /// macOS, or reading the keepalive values back on Windows).
    Unsupported {
        /// The option that does not exist here.
        option: &'static str,
    },
    /// A call that changes several values ([`set`](crate::set),
    /// [`set_system_defaults`](crate::set_system_defaults)) was refused
    /// midway, and the values it had changed already could not all be put
    /// back: `error` is the refusal, `left` every value that stays changed.
    /// Its errno is the refusal's.
    NotRestored {
        /// What stopped the call.
        error: Box<Error>,
        /// The values left changed, in the order they were applied.
        left: Vec<crate::LeftChanged>,
    },
}

impl Error {
    pub(crate) fn os(option: &'static str, source: io::Error) -> Self {
        Error::Os { option, source }
    }

    /// The same error with `text` (the value as the caller wrote it) as what
    /// was given: for front doors that check a stand-in for a value no
    /// integer type holds (a Python `int` of any size, text that is no
    /// number), so that the message shows what the caller gave. Errors
    /// other than [`Error::InvalidValue`] are returned as they are.
    ///
    /// ```
    /// let err = keepalive::Config::from_secs(Some(i64::MAX), None, None).unwrap_err();
    /// assert_eq!(err.given_as("18446744073709551616").to_string(),
    ///            "idle must be 1..32767 seconds, got 18446744073709551616");
    /// ```
    pub fn given_as(mut self, text: impl AsRef<[u8]>) -> Error {
        if let Error::InvalidValue { given, .. } | Error::Conflict { given, .. } = &mut self {
            *given = Given::Text(GivenText::new(text.as_ref()));
        }
        self
    }

    /// Whether the caller gave a bad value ([`Error::InvalidValue`], or
    /// values that cannot hold together, [`Error::Conflict`]) rather than the
    /// system refusing: `EINVAL`, Python's `ValueError`, a usage error. The
    /// one place that says which errors those are.
    ///
    /// ```
    /// let err = keepalive::Config::from_secs(Some(0), None, None).unwrap_err();
    /// assert!(err.is_invalid_value());
    /// ```
    pub fn is_invalid_value(&self) -> bool {
        matches!(
            self,
            Error::InvalidValue { .. }
                | Error::Conflict { .. }
                | Error::Excludes { .. }
                | Error::Requires { .. }
        )
    }

    /// Which value the error is about, for a caller's bad value
    /// ([`is_invalid_value`](Self::is_invalid_value)): a front door names
    /// its own spelling of it (`-c`, `KEEPCNT`) from this, never from the
    /// message. `None` for the system's refusals.
    ///
    /// ```
    /// use keepalive::Field;
    /// assert_eq!(Field::Count.parse("500").unwrap_err().field(), Some(Field::Count));
    /// let err = keepalive::Deadline::from_secs(4, Some(9)).unwrap_err();
    /// assert_eq!(err.field(), Some(Field::Probes));
    /// ```
    pub fn field(&self) -> Option<Field> {
        match self {
            Error::InvalidValue { name, .. } | Error::Conflict { name, .. } => {
                Field::from_name(name)
            }
            Error::Excludes { field, .. } | Error::Requires { field, .. } => Some(*field),
            Error::Os { .. } | Error::Unsupported { .. } | Error::NotRestored { .. } => None,
        }
    }

    /// The `errno` (or Windows error code) this error stands for, the way a C
    /// caller expects it: `EINVAL` for an invalid value, the kernel's own code
    /// for a refusal, `EOPNOTSUPP` for an option the platform lacks.
    ///
    /// ```
    /// let sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let err = keepalive::enable(&sock).unwrap_err();
    /// assert!(matches!(err.raw_os_error(), libc::ENOPROTOOPT | libc::EOPNOTSUPP));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn raw_os_error(&self) -> i32 {
        match self {
            Error::InvalidValue { .. }
            | Error::Conflict { .. }
            | Error::Excludes { .. }
            | Error::Requires { .. } => crate::sys::EINVAL,
            Error::Os { source, .. } => source.raw_os_error().unwrap_or(crate::sys::EINVAL),
            Error::Unsupported { .. } => crate::sys::EOPNOTSUPP,
            Error::NotRestored { error, .. } => error.raw_os_error(),
        }
    }
}

/// The one sentence for a value out of its range.
fn range(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    min: i64,
    max: i64,
    unit: &str,
    given: &dyn fmt::Display,
) -> fmt::Result {
    if min == max {
        // A range of one value ("1..1 probes") reads as that value, and a
        // unit after 1 in the singular: "probes must be 1 probe for this
        // deadline, got 5".
        let (word, rest) = unit.split_once(' ').unwrap_or((unit, ""));
        let word = match min {
            1 => word.strip_suffix('s').unwrap_or(word),
            _ => word,
        };
        let space = if rest.is_empty() { "" } else { " " };
        return write!(f, "{name} must be {min} {word}{space}{rest}, got {given}");
    }
    write!(f, "{name} must be {min}..{max} {unit}, got {given}")
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidValue {
                name,
                given,
                min,
                max,
                unit,
            } => match given {
                Given::Duration(d) if d.subsec_nanos() != 0 && *unit == "seconds" => write!(
                    f,
                    "{name} must be a whole number of seconds in {min}..{max}, got {d:?}"
                ),
                Given::Duration(d) if d.subsec_nanos() % 1_000_000 != 0 => write!(
                    f,
                    "{name} must be a whole number of {unit} in {min}..{max}, got {d:?}"
                ),
                Given::Duration(d) if *unit == "seconds" => {
                    range(f, name, *min, *max, unit, &d.as_secs())
                }
                Given::Duration(d) => range(f, name, *min, *max, unit, &d.as_millis()),
                Given::Int(n) => range(f, name, *min, *max, unit, n),
                Given::Text(t) => range(f, name, *min, *max, unit, t),
            },
            Error::Os { option, source } => write!(f, "{option}: {}", os_error_text(source)),
            Error::Conflict {
                name,
                given,
                min,
                unit,
                deadline,
                probes,
                max_probes,
            } => {
                write!(
                    f,
                    "{name} must be at least {min} {unit} with deadline {deadline} seconds"
                )?;
                match probes {
                    Some(n) => write!(f, " and {n} probes")?,
                    None => write!(f, " and up to {max_probes} probes")?,
                }
                write!(f, ", got {given}")
            }
            Error::Excludes { field, by } => {
                let (field, by) = (field.name(), by.name());
                write!(f, "{field} cannot be given with {by}: {by} sets ")?;
                let [first @ .., last] = Field::SET_BY_DEADLINE.map(Field::name);
                write!(f, "{} and {last} together", first.join(", "))
            }
            Error::Requires { field, needs } => {
                let (field, needs) = (field.name(), needs.name());
                write!(f, "{field} goes with {needs}: give {needs} too")
            }
            Error::Unsupported { option } => {
                write!(f, "{option} is not supported on this platform")
            }
            Error::NotRestored { error, left } => {
                write!(f, "{error}; and these stay changed: ")?;
                for (i, l) in left.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{} = {}", l.option, l.value)?;
                    match (&l.old, &l.source) {
                        (Some(old), Some(e)) => write!(
                            f,
                            " (was {old}; putting it back failed: {})",
                            os_error_text(e)
                        )?,
                        (Some(old), None) => write!(f, " (was {old})")?,
                        (None, _) => write!(f, " (not put back)")?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// An OS error's description without std's " (os error N)" suffix, which
/// would repeat the errno that every front door reports already: the one
/// wording of a refusal for the core and the tools built on it.
///
/// ```
/// let e = std::io::Error::from_raw_os_error(libc::EPERM);
/// assert_eq!(keepalive::os_error_text(&e), "Operation not permitted");
/// ```
pub fn os_error_text(source: &io::Error) -> String {
    let text = source.to_string();
    match source.raw_os_error() {
        Some(code) => text
            .strip_suffix(&format!(" (os error {code})"))
            .unwrap_or(&text)
            .to_owned(),
        None => text,
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Os { source, .. } => Some(source),
            Error::NotRestored { error, .. } => Some(&**error),
            _ => None,
        }
    }
}

impl From<Error> for io::Error {
    /// An invalid value becomes [`io::ErrorKind::InvalidInput`] with the
    /// message; an OS refusal becomes the kernel's own error, so that
    /// [`raw_os_error()`](io::Error::raw_os_error) is the errno it returned
    /// (`io::Error` cannot hold both an errno and a message of ours: match
    /// on [`Error::Os`] before converting to keep the option's name); a
    /// missing option becomes [`io::ErrorKind::Unsupported`] with the
    /// message.
    ///
    /// ```
    /// let sock = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let err: std::io::Error = keepalive::enable(&sock).unwrap_err().into();
    /// assert!(matches!(err.raw_os_error(), Some(libc::ENOPROTOOPT | libc::EOPNOTSUPP)));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn from(err: Error) -> io::Error {
        match err {
            Error::InvalidValue { .. }
            | Error::Conflict { .. }
            | Error::Excludes { .. }
            | Error::Requires { .. } => io::Error::new(io::ErrorKind::InvalidInput, err),
            Error::Os { source, .. } => source,
            Error::Unsupported { .. } => io::Error::new(io::ErrorKind::Unsupported, err),
            // The refusal's own errno, as for `Os`.
            Error::NotRestored { error, .. } => io::Error::from(*error),
        }
    }
}

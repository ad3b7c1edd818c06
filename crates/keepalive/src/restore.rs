//! Putting back what a call that changes several values had changed when a
//! later step is refused, and saying exactly what could not be put back
//! ([`Error::NotRestored`]) instead of claiming that nothing changed.

use std::io;

use crate::Error;

/// One value a call changed before a later step was refused.
///
/// Unix only: Windows cannot read an option's old value back, so its
/// `apply` has nothing to put back and reports the refusal alone.
#[cfg_attr(windows, allow(dead_code))]
pub(crate) struct Applied<K> {
    /// How `put` finds the option or file again.
    pub key: K,
    /// Its name, for the error: `"TCP_KEEPIDLE"`, a sysctl's path.
    pub name: &'static str,
    /// The value the call set.
    pub value: i64,
    /// The value it had before, when it was read first; `None` when it was
    /// not (it cannot be put back then).
    pub old: Option<i64>,
}

/// One value left changed by a call that failed: [`Error::NotRestored`].
#[derive(Debug)]
#[non_exhaustive]
pub struct LeftChanged {
    /// The option or file: `"TCP_KEEPIDLE"`,
    /// `"/proc/sys/net/ipv4/tcp_keepalive_time"`.
    pub option: &'static str,
    /// The value the failed call set, which it keeps.
    pub value: i64,
    /// The value it had before, when that was read.
    pub old: Option<i64>,
    /// Why putting `old` back failed; `None` when it was not tried (on
    /// Linux `set` does not read the old values first: there only a security
    /// policy refuses an option midway, see [`set`](crate::set)).
    pub source: Option<io::Error>,
}

/// After `err` stopped a call, puts every value of `applied` back (the
/// last applied first) with `put`, and returns the error to report: `err`
/// itself when everything was put back (or nothing had changed), else
/// [`Error::NotRestored`] naming each value left changed.
#[cfg_attr(windows, allow(dead_code))]
pub(crate) fn undo<K>(
    err: Error,
    applied: &[Applied<K>],
    mut put: impl FnMut(&K, i64) -> Result<(), Error>,
) -> Error {
    let mut left = Vec::new();
    for a in applied.iter().rev() {
        let source = match a.old {
            Some(old) => match put(&a.key, old) {
                Ok(()) => continue,
                Err(e) => Some(io::Error::from(e)),
            },
            None => None,
        };
        left.push(LeftChanged {
            option: a.name,
            value: a.value,
            old: a.old,
            source,
        });
    }
    if left.is_empty() {
        return err;
    }
    left.reverse();
    Error::NotRestored {
        error: Box::new(err),
        left,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn refused(option: &'static str, errno: i32) -> Error {
        Error::Os {
            option,
            source: io::Error::from_raw_os_error(errno),
        }
    }

    fn applied(name: &'static str, value: i64, old: Option<i64>) -> Applied<&'static str> {
        Applied {
            key: name,
            name,
            value,
            old,
        }
    }

    #[test]
    fn everything_put_back_is_the_refusal_itself() {
        let mut put_back = Vec::new();
        let err = undo(
            refused("b", libc::EPERM),
            &[applied("a", 600, Some(7200)), applied("c", 4, Some(9))],
            |k, v| {
                put_back.push((*k, v));
                Ok(())
            },
        );
        assert!(matches!(err, Error::Os { option: "b", .. }), "{err:?}");
        assert_eq!(
            put_back,
            vec![("c", 9), ("a", 7200)],
            "the last applied first"
        );
        let err = undo(
            refused("b", libc::EPERM),
            &[] as &[Applied<()>],
            |_, _| unreachable!(),
        );
        assert_eq!(err.to_string(), "b: Operation not permitted");
    }

    #[test]
    fn what_could_not_be_put_back_is_named() {
        let err = undo(
            refused("/proc/sys/net/ipv4/tcp_keepalive_intvl", libc::EROFS),
            &[
                applied("/proc/sys/net/ipv4/tcp_keepalive_time", 600, Some(7200)),
                applied("TCP_USER_TIMEOUT", 5000, None),
            ],
            |_, _| Err(refused("x", libc::EFBIG)),
        );
        let Error::NotRestored { error, left } = &err else {
            panic!("{err:?}")
        };
        assert!(matches!(**error, Error::Os { .. }));
        assert_eq!(left.len(), 2);
        assert_eq!(
            (left[0].option, left[0].value, left[0].old),
            ("/proc/sys/net/ipv4/tcp_keepalive_time", 600, Some(7200))
        );
        assert_eq!(
            left[0].source.as_ref().unwrap().raw_os_error(),
            Some(libc::EFBIG)
        );
        assert!(left[1].source.is_none());
        assert_eq!(
            err.to_string(),
            "/proc/sys/net/ipv4/tcp_keepalive_intvl: Read-only file system; and these stay \
             changed: /proc/sys/net/ipv4/tcp_keepalive_time = 600 (was 7200; putting it back \
             failed: File too large), TCP_USER_TIMEOUT = 5000 (not put back)"
        );
        // The refusal's errno, for C and Python.
        assert_eq!(err.raw_os_error(), libc::EROFS);
        assert_eq!(io::Error::from(err).raw_os_error(), Some(libc::EROFS));
    }
}

//! The value parsers of the options: every keepalive value parsed and
//! checked by the core.

use keepalive::Field;

/// The values, parsed and checked by the core: one syntax, range and message
/// with keepalive-run, the preload library and the C examples.
pub(crate) fn idle_secs(text: &str) -> Result<i64, String> {
    Field::Idle.parse(text).map_err(|e| e.to_string())
}

pub(crate) fn interval_secs(text: &str) -> Result<i64, String> {
    Field::Interval.parse(text).map_err(|e| e.to_string())
}

pub(crate) fn count_probes(text: &str) -> Result<i64, String> {
    Field::Count.parse(text).map_err(|e| e.to_string())
}

pub(crate) fn user_timeout_ms(text: &str) -> Result<i64, String> {
    Field::UserTimeout.parse(text).map_err(|e| e.to_string())
}

pub(crate) fn deadline_secs(text: &str) -> Result<i64, String> {
    Field::Deadline.parse(text).map_err(|e| e.to_string())
}

pub(crate) fn max_idle_secs(text: &str) -> Result<i64, String> {
    Field::MaxIdle.parse(text).map_err(|e| e.to_string())
}

/// A process id: a whole number, 1 or more.
pub(crate) fn pid(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err("a process id is a whole number, 1 or more".into()),
    }
}

/// A descriptor number: a whole number, 0 or more.
pub(crate) fn descriptor(text: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .ok()
        .filter(|&n| n >= 0)
        .ok_or_else(|| "a descriptor is a whole number, 0 or more".into())
}

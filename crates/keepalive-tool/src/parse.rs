//! The value parsers of the tool's own options (the keepalive values are
//! keepalive-flags' and the core's: see `tuning`).

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

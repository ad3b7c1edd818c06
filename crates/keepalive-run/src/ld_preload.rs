//! The `LD_PRELOAD` value PROGRAM gets: the libraries already listed, then
//! the preload library.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `LD_PRELOAD` with `lib` appended: after the libraries already listed, with
/// the separator they use (space unless only colons are used), and not twice.
pub(crate) fn ld_preload(existing: Option<OsString>, lib: &Path) -> OsString {
    let lib = lib.as_os_str();
    let existing = match existing {
        Some(e) if !e.as_bytes().iter().all(|b| *b == b' ' || *b == b':') => e,
        _ => return lib.to_owned(),
    };
    let bytes = existing.as_bytes();
    let listed = bytes
        .split(|b| *b == b' ' || *b == b':')
        .any(|entry| entry == lib.as_bytes());
    if listed {
        return existing;
    }
    let sep = if bytes.contains(&b':') && !bytes.contains(&b' ') {
        ":"
    } else {
        " "
    };
    let mut out = existing.clone();
    out.push(OsStr::new(sep));
    out.push(lib);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ld_preload_is_appended_once_with_the_same_separator() {
        let lib = Path::new("/p/lib/libkeepalive-preload.so");
        let got = |e: Option<&str>| ld_preload(e.map(OsString::from), lib);
        assert_eq!(got(None), "/p/lib/libkeepalive-preload.so");
        assert_eq!(got(Some("")), "/p/lib/libkeepalive-preload.so");
        assert_eq!(got(Some(" : ")), "/p/lib/libkeepalive-preload.so");
        assert_eq!(got(Some("/a.so")), "/a.so /p/lib/libkeepalive-preload.so");
        assert_eq!(
            got(Some("/a.so /b.so")),
            "/a.so /b.so /p/lib/libkeepalive-preload.so"
        );
        assert_eq!(
            got(Some("/a.so:/b.so")),
            "/a.so:/b.so:/p/lib/libkeepalive-preload.so"
        );
        assert_eq!(
            got(Some("/a.so:/p/lib/libkeepalive-preload.so")),
            "/a.so:/p/lib/libkeepalive-preload.so"
        );
    }
}

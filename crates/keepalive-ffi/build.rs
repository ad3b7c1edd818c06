//! Generates the C header from `src/lib.rs` into `$OUT_DIR/keepalive.h`
//! (`tests` compare it with the committed `include/keepalive.h`) and gives the
//! shared library its SONAME.

use std::env;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))
        .expect("crates/keepalive-ffi/cbindgen.toml is readable and valid");
    // Only this crate's source is parsed (no `cargo metadata` from inside a
    // build script): every exported item lives in src/lib.rs.
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen generates the header")
        .write_to_file(out.join("keepalive.h"));

    // The C library is installed as libkeepalive.so.1 (see mk/c.mk). Not .so.0:
    // Debian's libkeepalive0 (the classic LD_PRELOAD library, no API at all)
    // owns libkeepalive.so.0, and a program of ours that the loader resolved
    // to it failed at start with `undefined symbol: keepalive_set`.
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if matches!(
        os.as_str(),
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly"
    ) {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libkeepalive.so.1");
    }
}

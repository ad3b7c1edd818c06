//! Compiles the BPF programs in bpf/ with clang's BPF target, for
//! src/programs.rs to embed.
//!
//! Where clang is missing (or `KEEPALIVE_BPF_SKIP` is set), the crate is
//! built without them, so that the rest of the workspace builds anywhere:
//! `attach` then says why, and `make build-cgroup` (which installs clang
//! first) refuses such a build. A clang that fails to compile them
//! (libbpf-dev's headers missing) does the same, with clang's first error
//! as a warning. `KEEPALIVE_BPF_REQUIRE=1` (set by `make build-cgroup`) turns
//! both into a build error instead.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One program per file, as bpf/<name>.bpf.c.
const PROGRAMS: [&str; 3] = ["sockops", "setsockopt", "watch"];

fn main() {
    println!("cargo:rustc-check-cfg=cfg(keepalive_bpf_built)");
    println!("cargo:rerun-if-env-changed=KEEPALIVE_BPF_SKIP");
    println!("cargo:rerun-if-env-changed=CLANG");
    println!("cargo:rerun-if-changed=bpf");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));

    if env::var_os("KEEPALIVE_BPF_SKIP").is_some_and(|v| !v.is_empty() && v != "0") {
        return without("KEEPALIVE_BPF_SKIP was set at build time");
    }
    let clang = env::var_os("CLANG").map_or_else(|| PathBuf::from("clang"), PathBuf::from);
    let Some(includes) = system_includes(&clang) else {
        // Look again at every build until clang appears: a path that does
        // not exist makes cargo rerun this script.
        println!("cargo:rerun-if-changed=/nonexistent/keepalive-bpf/clang-appears");
        return without("clang was missing at build time");
    };
    for name in PROGRAMS {
        if let Err(first) = compile(&clang, &includes, name, &out) {
            println!("cargo:warning=keepalive-bpf: building without the BPF programs: {first}");
            println!("cargo:rerun-if-changed=/nonexistent/keepalive-bpf/clang-appears");
            return without(&format!(
                "clang could not compile bpf/{name}.bpf.c at build time ({first}); \
                 libbpf-dev provides <bpf/bpf_helpers.h>"
            ));
        }
    }
    println!("cargo:rustc-cfg=keepalive_bpf_built");
    println!("cargo:rustc-env=KEEPALIVE_BPF_MISSING=");
}

/// The crate without programs: `attach` reports `why`.
fn without(why: &str) {
    // Not a rerun-if-env-changed: with clang there, it changes nothing.
    if env::var_os("KEEPALIVE_BPF_REQUIRE").is_some_and(|v| !v.is_empty() && v != "0") {
        panic!("KEEPALIVE_BPF_REQUIRE is set, but the BPF programs cannot be built: {why}");
    }
    println!("cargo:rustc-env=KEEPALIVE_BPF_MISSING={why}");
}

/// clang's own system include directories, which `-target bpf` does not
/// search by itself (<asm/types.h> lives in the multiarch one); the same
/// trick as libbpf-bootstrap's CLANG_BPF_SYS_INCLUDES. None: no clang.
fn system_includes(clang: &Path) -> Option<Vec<String>> {
    let out = Command::new(clang)
        .args(["-v", "-E", "-x", "c", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stderr);
    let dirs = text
        .lines()
        .skip_while(|l| !l.starts_with("#include <...> search starts here"))
        .skip(1)
        .take_while(|l| !l.starts_with("End of search list"))
        .map(|l| l.trim().to_string())
        .collect();
    Some(dirs)
}

fn compile(clang: &Path, includes: &[String], name: &str, out: &Path) -> Result<(), String> {
    let src = format!("bpf/{name}.bpf.c");
    let mut cmd = Command::new(clang);
    cmd.args(["-target", "bpf", "-O2", "-g", "-Wall", "-Wextra", "-Werror"]);
    for dir in includes {
        cmd.arg("-idirafter").arg(dir);
    }
    cmd.arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(out.join(format!("{name}.bpf.o")));
    let result = cmd
        .output()
        .map_err(|e| format!("{}: {e}", clang.display()))?;
    if result.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&result.stderr);
    let first = stderr
        .lines()
        .find(|l| l.contains("error"))
        .unwrap_or("clang failed")
        .to_string();
    Err(first)
}

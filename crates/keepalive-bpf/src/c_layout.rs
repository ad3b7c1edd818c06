//! Tests only: a C struct of bpf/*.h as the C compiler lays it out, so that
//! the Rust structs mirroring it (`Policy` and `Stats` in maps.rs,
//! `RawDeath` in watch.rs) are held to it field by field.
//!
//! [`assert_same_layout!`] compiles a small C program with the host's C
//! compiler (`$CC`, else `cc`, the linker Rust itself uses on Linux) that
//! includes the header and prints the struct's size and alignment, each
//! named field's offset and size (`offsetof`, `sizeof`) and each named
//! constant, runs it, and compares all of it with Rust's
//! (`core::mem::offset_of!`, `size_of`). A field moved, resized, renamed or
//! added on one side only fails the test: the total size or an offset
//! differs, or the other side does not compile.
//!
//! The BPF target lays these structs out as x86-64 and arm64 do (fixed-width
//! integers, 8-byte alignment for 64-bit ones), so the host's layout is the
//! programs' layout.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What the C compiler says of one struct: its size and alignment, each
/// field's `(offset, size)`, and each constant's value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) size: usize,
    pub(crate) align: usize,
    pub(crate) fields: BTreeMap<String, (usize, usize)>,
    pub(crate) constants: BTreeMap<String, i64>,
}

/// The size of the field a projection `|s| &s.field` reaches.
pub(crate) fn field_size<S, F>(_: impl Fn(&S) -> &F) -> usize {
    std::mem::size_of::<F>()
}

/// `struct ty` of bpf/`header`, with `fields` and `constants`, as the C
/// compiler lays it out. Panics (failing the test) when it cannot compile
/// or run the program, with the compiler's message.
pub(crate) fn c_layout(header: &str, ty: &str, fields: &[&str], constants: &[&str]) -> Layout {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "keepalive-bpf-layout-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = format!(
        "#include <stddef.h>\n#include <stdio.h>\n#include \"{header}\"\n\
         typedef struct {ty} probe_t;\n\
         int main(void)\n{{\n\
         printf(\"size %zu\\n\", sizeof(probe_t));\n\
         printf(\"align %zu\\n\", (size_t)_Alignof(probe_t));\n"
    );
    for f in fields {
        c += &format!(
            "printf(\"field {f} %zu %zu\\n\", offsetof(probe_t, {f}), sizeof(((probe_t *)0)->{f}));\n"
        );
    }
    for k in constants {
        c += &format!("printf(\"constant {k} %lld\\n\", (long long)({k}));\n");
    }
    c += "return 0;\n}\n";
    let (source, program) = (dir.join("layout.c"), dir.join("layout"));
    std::fs::write(&source, c).unwrap();
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let bpf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bpf");
    let built = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(&bpf)
        .arg("-o")
        .arg(&program)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("running {cc:?}: {e}"));
    assert!(
        built.status.success(),
        "{cc:?} could not compile {}: {}",
        source.display(),
        String::from_utf8_lossy(&built.stderr)
    );
    let ran = Command::new(&program).output().unwrap();
    assert!(ran.status.success(), "{} failed", program.display());
    std::fs::remove_dir_all(&dir).unwrap();

    let mut layout = Layout {
        size: 0,
        align: 0,
        fields: BTreeMap::new(),
        constants: BTreeMap::new(),
    };
    for line in String::from_utf8(ran.stdout).unwrap().lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let n = |i: usize| words[i].parse::<usize>().unwrap();
        match words[0] {
            "size" => layout.size = n(1),
            "align" => layout.align = n(1),
            "field" => {
                layout.fields.insert(words[1].into(), (n(2), n(3)));
            }
            _ => {
                layout
                    .constants
                    .insert(words[1].into(), words[2].parse().unwrap());
            }
        }
    }
    layout
}

/// `assert_same_layout!("policy.h", "keepalive_policy", Policy, [set, ...],
/// [("POLICY_IDLE", IDLE as i64), ...])`: the Rust struct has the C
/// struct's size, alignment, and every listed field at the same offset with
/// the same size; the C constants have the Rust values.
macro_rules! assert_same_layout {
    ($header:expr, $c:expr, $rust:ty, [$($field:ident),+ $(,)?]
     $(, [$(($name:expr, $value:expr)),* $(,)?])?) => {{
        let constants: &[(&str, i64)] = &[$($(($name, $value)),*)?];
        let names: Vec<&str> = constants.iter().map(|(n, _)| *n).collect();
        let c = $crate::c_layout::c_layout(
            $header,
            $c,
            &[$(stringify!($field)),+],
            &names,
        );
        let rust = $crate::c_layout::Layout {
            size: ::std::mem::size_of::<$rust>(),
            align: ::std::mem::align_of::<$rust>(),
            fields: [$((
                stringify!($field).to_string(),
                (
                    ::std::mem::offset_of!($rust, $field),
                    $crate::c_layout::field_size(|s: &$rust| &s.$field),
                ),
            )),+]
            .into_iter()
            .collect(),
            constants: constants.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        };
        assert_eq!(
            rust,
            c,
            "{} (left) does not lay out struct {} of bpf/{} (right) as the C compiler does",
            stringify!($rust),
            $c,
            $header
        );
    }};
}
pub(crate) use assert_same_layout;

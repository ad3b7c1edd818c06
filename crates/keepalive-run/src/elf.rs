//! Just enough of the ELF format to tell, before `exec`, whether the preload
//! library can be loaded at all and whether the dynamic loader will ever run
//! for a program: its class and byte order, its type, its machine, and
//! whether it asks for a program interpreter (`PT_INTERP`).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// `ET_EXEC`: a program linked at a fixed address.
pub(crate) const ET_EXEC: u16 = 2;
/// `ET_DYN`: a shared object, or a position-independent program.
pub(crate) const ET_DYN: u16 = 3;
/// `PT_INTERP`: the program header naming the dynamic loader.
const PT_INTERP: u32 = 3;
/// More program headers than any real file has: a bound for damaged ones.
const MAX_PHNUM: u16 = 4096;

/// What code an ELF file holds: two files' code can share one process only
/// when their `Abi`s are equal. Displayed as `64-bit little-endian, ELF
/// machine 62`, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Abi {
    /// 64-bit (`ELFCLASS64`) rather than 32-bit.
    pub(crate) is_64: bool,
    /// Little-endian (`ELFDATA2LSB`).
    pub(crate) little_endian: bool,
    /// `e_machine` (`EM_X86_64` is 62, `EM_AARCH64` 183, ...).
    pub(crate) machine: u16,
}

impl std::fmt::Display for Abi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-bit {}-endian, ELF machine {}",
            if self.is_64 { 64 } else { 32 },
            if self.little_endian { "little" } else { "big" },
            self.machine
        )
    }
}

/// What an ELF file's headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) abi: Abi,
    /// `e_type`: [`ET_EXEC`], [`ET_DYN`], ...
    pub(crate) kind: u16,
    /// Whether a `PT_INTERP` program header names a dynamic loader.
    pub(crate) has_interpreter: bool,
}

/// What the first bytes of a file are.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Elf(Header),
    /// `#!` and the interpreter's path (the first word after it).
    Script(Vec<u8>),
    /// Neither: the kernel decides what it is (binfmt_misc, or an error).
    Other,
}

/// Reads the start of `path` and tells what it is.
pub(crate) fn read(path: &Path) -> io::Result<Kind> {
    let mut file = File::open(path)?;
    let mut start = [0u8; 256];
    let n = read_up_to(&mut file, &mut start)?;
    let start = &start[..n];
    if let Some(rest) = start.strip_prefix(b"#!") {
        let line = rest.split(|b| *b == b'\n').next().unwrap_or_default();
        let interpreter = line
            .split(|b| *b == b' ' || *b == b'\t')
            .find(|w| !w.is_empty())
            .unwrap_or_default();
        return Ok(Kind::Script(interpreter.to_vec()));
    }
    if !start.starts_with(b"\x7fELF") {
        return Ok(Kind::Other);
    }
    parse(start, &mut file).map(Kind::Elf)
}

/// Reads as much of `buf` as the file has.
fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Parses the ELF header in `start` (the file's first bytes) and walks the
/// program headers, read from `file`, for `PT_INTERP`.
fn parse(start: &[u8], file: &mut (impl Read + Seek)) -> io::Result<Header> {
    if start.len() < 52 {
        return Err(bad("truncated ELF header"));
    }
    let is_64 = match start[4] {
        1 => false,
        2 => true,
        _ => return Err(bad("unknown ELF class")),
    };
    let little_endian = match start[5] {
        1 => true,
        2 => false,
        _ => return Err(bad("unknown ELF byte order")),
    };
    let u16_at = |at: usize| {
        let b = [start[at], start[at + 1]];
        if little_endian {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_of = |b: [u8; 4]| {
        if little_endian {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let kind = u16_at(16);
    let machine = u16_at(18);
    let (phoff, phentsize, phnum) = if is_64 {
        if start.len() < 64 {
            return Err(bad("truncated ELF header"));
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&start[32..40]);
        let off = if little_endian {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        };
        (off, u16_at(54), u16_at(56))
    } else {
        let off = u32_of([start[28], start[29], start[30], start[31]]);
        (u64::from(off), u16_at(42), u16_at(44))
    };
    let mut has_interpreter = false;
    if phnum > 0 {
        if phnum > MAX_PHNUM || phentsize < 4 {
            return Err(bad("implausible program headers"));
        }
        for i in 0..u64::from(phnum) {
            file.seek(SeekFrom::Start(phoff + i * u64::from(phentsize)))?;
            let mut p_type = [0u8; 4];
            file.read_exact(&mut p_type)?;
            if u32_of(p_type) == PT_INTERP {
                has_interpreter = true;
                break;
            }
        }
    }
    Ok(Header {
        abi: Abi {
            is_64,
            little_endian,
            machine,
        },
        kind,
        has_interpreter,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Cursor;

    /// A minimal 64-bit little-endian ELF file: `kind`, `machine`, and one
    /// program header of each type in `phdrs`.
    pub(crate) fn elf64(kind: u16, machine: u16, phdrs: &[u32]) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2; // ELFCLASS64
        f[5] = 1; // ELFDATA2LSB
        f[6] = 1; // EV_CURRENT
        f[16..18].copy_from_slice(&kind.to_le_bytes());
        f[18..20].copy_from_slice(&machine.to_le_bytes());
        f[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        f[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        f[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for p_type in phdrs {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&p_type.to_le_bytes());
            f.extend(ph);
        }
        f
    }

    /// A minimal 32-bit big-endian one.
    fn elf32_be(kind: u16, machine: u16, phdrs: &[u32]) -> Vec<u8> {
        let mut f = vec![0u8; 52];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 1;
        f[5] = 2;
        f[16..18].copy_from_slice(&kind.to_be_bytes());
        f[18..20].copy_from_slice(&machine.to_be_bytes());
        f[28..32].copy_from_slice(&52u32.to_be_bytes());
        f[42..44].copy_from_slice(&32u16.to_be_bytes());
        f[44..46].copy_from_slice(&(phdrs.len() as u16).to_be_bytes());
        for p_type in phdrs {
            let mut ph = vec![0u8; 32];
            ph[..4].copy_from_slice(&p_type.to_be_bytes());
            f.extend(ph);
        }
        f
    }

    fn header(bytes: &[u8]) -> io::Result<Header> {
        parse(&bytes[..bytes.len().min(256)], &mut Cursor::new(bytes))
    }

    #[test]
    fn a_dynamic_program_has_an_interpreter() {
        let h = header(&elf64(ET_DYN, 62, &[6, PT_INTERP, 1])).unwrap();
        assert_eq!(
            h,
            Header {
                abi: Abi {
                    is_64: true,
                    little_endian: true,
                    machine: 62,
                },
                kind: ET_DYN,
                has_interpreter: true
            }
        );
    }

    #[test]
    fn a_static_program_has_none() {
        assert!(
            !header(&elf64(ET_EXEC, 62, &[1, 1, 4]))
                .unwrap()
                .has_interpreter
        );
        assert!(!header(&elf64(ET_DYN, 62, &[])).unwrap().has_interpreter);
    }

    #[test]
    fn class_byte_order_and_machine_are_read() {
        let h = header(&elf32_be(ET_EXEC, 8, &[PT_INTERP])).unwrap();
        assert!(!h.abi.is_64 && !h.abi.little_endian && h.has_interpreter);
        assert_eq!((h.kind, h.abi.machine), (ET_EXEC, 8));
        assert_ne!(h.abi, header(&elf64(ET_DYN, 62, &[])).unwrap().abi);
        assert_eq!(h.abi.to_string(), "32-bit big-endian, ELF machine 8");
    }

    #[test]
    fn damaged_headers_are_errors_not_panics() {
        assert!(header(b"\x7fELF\x02\x01").is_err());
        let mut f = elf64(ET_DYN, 62, &[PT_INTERP]);
        f[4] = 9;
        assert!(header(&f).is_err());
        let mut f = elf64(ET_DYN, 62, &[PT_INTERP]);
        f.truncate(66); // program header cut short
        assert!(header(&f).is_err());
        let mut f = elf64(ET_DYN, 62, &[]);
        f[56..58].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(header(&f).is_err());
    }

    #[test]
    fn files_are_told_apart() {
        let dir = std::env::temp_dir().join(format!("ka-run-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let script = write("script", b"#!/bin/sh -e\necho hi\n");
        assert_eq!(read(&script).unwrap(), Kind::Script(b"/bin/sh".to_vec()));
        let spaced = write("spaced", b"#!  /usr/bin/env python3\n");
        assert_eq!(
            read(&spaced).unwrap(),
            Kind::Script(b"/usr/bin/env".to_vec())
        );
        assert_eq!(read(&write("text", b"hello\n")).unwrap(), Kind::Other);
        assert_eq!(read(&write("empty", b"")).unwrap(), Kind::Other);
        let elf = write("elf", &elf64(ET_EXEC, 62, &[1]));
        assert!(matches!(read(&elf).unwrap(), Kind::Elf(h) if !h.has_interpreter));
        // This test program itself: a dynamically linked ELF file.
        let me = std::env::current_exe().unwrap();
        assert!(matches!(read(&me).unwrap(), Kind::Elf(h) if h.has_interpreter));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

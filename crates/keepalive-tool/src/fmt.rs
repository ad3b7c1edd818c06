//! Numbers in their natural units, addresses, and tables that fit a
//! terminal.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Duration;

/// Whether `c` must not reach a terminal raw: a control character (C0, DEL,
/// C1: escape sequences that recolour or retitle the terminal). A newline
/// is kept: it ends the line it is in. (JSON escapes every one of them
/// itself, so JSON passes through unchanged.)
fn unprintable(c: char) -> bool {
    c.is_control() && c != '\n'
}

/// Text for people, as `ps` shows a command: every control character
/// replaced by `?`, so that a process named with an escape sequence cannot
/// act on the operator's terminal. Text without one is returned as it is,
/// without a copy.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unprintable) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if unprintable(c) { '?' } else { c })
            .collect(),
    )
}

/// `ADDRESS:PORT`, `[ADDRESS]:PORT` for IPv6 (Rust's own notation, as `ss`
/// writes them).
pub fn addr(a: SocketAddr) -> String {
    a.to_string()
}

/// Whole milliseconds, for JSON.
pub fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A duration in a sentence: `5 s`, `7875 s`, `4.8 s`, `340 ms`.
pub fn spoken(d: Duration) -> String {
    let ms = ms(d);
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// A duration in a table cell, short: `340ms`, `4.8s`, `59s`, `12m5s`,
/// `2h11m15s`.
pub fn compact(d: Duration) -> String {
    let ms = ms(d);
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if ms < 10_000 && !ms.is_multiple_of(1000) {
        return format!("{:.1}s", d.as_secs_f64());
    }
    let s = (ms + 500) / 1000;
    let (h, m, s) = (s / 3600, s / 60 % 60, s % 60);
    match (h, m, s) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m}m"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

/// A long duration with its compact form as well, for the defaults:
/// `7875 s (2h11m15s)`; a short one as [`spoken`] says it.
pub fn with_words(d: Duration) -> String {
    if d.as_secs() < 120 || d.subsec_nanos() != 0 {
        return spoken(d);
    }
    format!("{} ({})", spoken(d), compact(d))
}

/// Fills words into lines of at most `width` characters (a longer word
/// gets a line of its own): the help's wrapping.
pub use keepalive_flags::text::wrap;

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// A column of a table for people.
#[derive(Debug, Clone)]
pub struct Column {
    pub header: &'static str,
    pub align: Align,
    /// Dropped to fit a narrow terminal in ascending order; `None`: never.
    pub drop_rank: Option<u8>,
    /// Cells may be cut to this many characters (with `~` at the end)
    /// before columns are dropped; `None`: never cut.
    pub shrink_to: Option<usize>,
}

const GAP: usize = 2;

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn cut(s: &str, width: usize) -> String {
    if chars(s) <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('~');
    out
}

/// Lays out a table: widths from the content, two spaces between columns,
/// and, when `width` is given and the table is wider, shrinkable cells cut
/// first, then columns dropped by rank, and any line still too long cut at
/// `width` (a row is never wrapped). Returns the lines, header first.
pub fn table(columns: &[Column], rows: &[Vec<String>], width: Option<usize>) -> Vec<String> {
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| chars(&r[i]))
                .chain([chars(c.header)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut shown: Vec<bool> = vec![true; columns.len()];
    let total = |widths: &[usize], shown: &[bool]| -> usize {
        let n = shown.iter().filter(|&&s| s).count();
        widths
            .iter()
            .zip(shown)
            .filter(|(_, &s)| s)
            .map(|(w, _)| *w)
            .sum::<usize>()
            + GAP * n.saturating_sub(1)
    };
    if let Some(limit) = width {
        for (i, c) in columns.iter().enumerate() {
            if total(&widths, &shown) <= limit {
                break;
            }
            if let Some(min) = c.shrink_to {
                widths[i] = widths[i].min(min.max(chars(c.header)));
            }
        }
        let mut ranked: Vec<(u8, usize)> = columns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((c.drop_rank?, i)))
            .collect();
        ranked.sort_unstable();
        for (_, i) in ranked {
            if total(&widths, &shown) <= limit {
                break;
            }
            shown[i] = false;
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut out = String::new();
        let last = (0..columns.len()).rfind(|&i| shown[i]);
        for (i, cell) in cells.into_iter().enumerate() {
            if !shown[i] {
                continue;
            }
            let text = cut(cell, widths[i]);
            let pad = widths[i] - chars(&text);
            let is_last = Some(i) == last;
            match columns[i].align {
                Align::Left if is_last => out.push_str(&text),
                Align::Left => {
                    out.push_str(&text);
                    out.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    out.extend(std::iter::repeat_n(' ', pad));
                    out.push_str(&text);
                }
            }
            if !is_last {
                out.extend(std::iter::repeat_n(' ', GAP));
            }
        }
        match width {
            Some(limit) if chars(&out) > limit => out.chars().take(limit).collect(),
            _ => out,
        }
    };
    let mut lines = vec![line(columns.iter().map(|c| c.header).collect())];
    for r in rows {
        lines.push(line(r.iter().map(String::as_str).collect()));
    }
    lines
}

/// The width to fit: `COLUMNS` when set to a number, else the terminal's
/// (`TIOCGWINSZ` on standard output), else none (a pipe or a file gets
/// whole rows).
pub fn terminal_width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
    {
        return Some(n);
    }
    // SAFETY: an all-zero winsize is a valid value of the plain-data struct.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into the live local `ws`.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms_(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Milliseconds, then `spoken`, `compact` and `with_words` of them.
    const DURATIONS: &str = "
        0          0 s      0ms       0 s
        340        340 ms   340ms     340 ms
        4750       4.8 s    4.8s      4.8 s
        4810       4.8 s    4.8s      4.8 s
        5000       5 s      5s        5 s
        59400      59.4 s   59s       59.4 s
        59600      59.6 s   1m        59.6 s
        680000     680 s    11m20s    680 s (11m20s)
        725000     725 s    12m5s     725 s (12m5s)
        7200000    7200 s   2h        7200 s (2h)
        7260000    7260 s   2h1m      7260 s (2h1m)
        7875000    7875 s   2h11m15s  7875 s (2h11m15s)";

    #[test]
    fn durations() {
        for row in DURATIONS.lines().filter(|l| !l.trim().is_empty()) {
            let (ms, rest) = row.trim().split_once(' ').unwrap();
            let d = ms_(ms.parse().unwrap());
            let got = format!("{} {} {}", spoken(d), compact(d), with_words(d));
            let want: Vec<&str> = rest.split_whitespace().collect();
            assert_eq!(got, want.join(" "), "{ms} ms");
        }
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(printable("python3"), "python3");
        assert!(matches!(printable("nc -l"), Cow::Borrowed(_)));
        assert_eq!(printable("\x1b]0;pwned\x07"), "?]0;pwned?");
        assert_eq!(printable("a\x1b[31mb\x7f\u{9b}c\td"), "a?[31mb??c?d");
        let json = serde_json::to_string("a\x1b]0;b\x07\u{202e}").unwrap();
        assert_eq!(printable(&json), json, "JSON is left as it is");
        assert_eq!(printable("two\nlines"), "two\nlines");
        assert_eq!(printable("caf\u{e9} \u{1f600}"), "caf\u{e9} \u{1f600}");
    }

    #[test]
    fn addresses() {
        assert_eq!(addr("192.0.2.1:40000".parse().unwrap()), "192.0.2.1:40000");
        assert_eq!(addr("[::1]:5050".parse().unwrap()), "[::1]:5050");
    }

    fn cols() -> Vec<Column> {
        vec![
            Column {
                header: "PID",
                align: Align::Right,
                drop_rank: None,
                shrink_to: None,
            },
            Column {
                header: "COMMAND",
                align: Align::Left,
                drop_rank: Some(2),
                shrink_to: Some(4),
            },
            Column {
                header: "EXTRA",
                align: Align::Right,
                drop_rank: Some(1),
                shrink_to: None,
            },
            Column {
                header: "STATE",
                align: Align::Left,
                drop_rank: None,
                shrink_to: None,
            },
        ]
    }

    fn rows() -> Vec<Vec<String>> {
        vec![
            vec![
                "1".into(),
                "systemd-resolved".into(),
                "12345".into(),
                "LISTEN".into(),
            ],
            vec!["4242".into(), "sh".into(), "7".into(), "ESTABLISHED".into()],
        ]
    }

    #[test]
    fn a_table_with_room() {
        let lines = table(&cols(), &rows(), None);
        assert_eq!(
            lines,
            vec![
                " PID  COMMAND           EXTRA  STATE",
                "   1  systemd-resolved  12345  LISTEN",
                "4242  sh                    7  ESTABLISHED",
            ]
        );
    }

    #[test]
    fn a_narrow_terminal_cuts_then_drops_then_truncates() {
        // 36 wide: the command is cut to its header's width first.
        let lines = table(&cols(), &rows(), Some(36));
        assert_eq!(lines[1], "   1  system~  12345  LISTEN");
        assert!(lines.iter().all(|l| l.chars().count() <= 36));
        // 26: EXTRA goes.
        let lines = table(&cols(), &rows(), Some(26));
        assert_eq!(lines[0], " PID  COMMAND  STATE");
        assert_eq!(lines[1], "   1  system~  LISTEN");
        // 12: only the columns that are never dropped, and lines cut.
        let lines = table(&cols(), &rows(), Some(12));
        assert_eq!(lines[0], " PID  STATE");
        assert_eq!(lines[2], "4242  ESTABL");
        assert!(lines.iter().all(|l| l.chars().count() <= 12));
    }
}

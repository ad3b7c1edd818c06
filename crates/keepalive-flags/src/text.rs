//! The help generated from the definitions: usage fragments, and the
//! options block of a help text that is written by hand around it
//! (keepalive-run's; the tool's comes from clap, given each flag's
//! [`Flag::help`]).

use keepalive::Field;

use crate::{by_field, Flag, DEADLINE, TUNING};

/// Where an option's help starts, in [`options`].
const HELP_COLUMN: usize = 31;
/// The width [`options`] fills.
const WIDTH: usize = 79;

/// `[-d IDLE] [-i INTVL]`: each of `flags` optional.
pub fn optional(flags: &[&Flag]) -> String {
    flags
        .iter()
        .map(|f| format!("[{}]", f.usage()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The flags of [`TUNING`] that give `fields`, in that order.
fn flags_of(fields: &[Field]) -> Vec<&'static Flag> {
    fields
        .iter()
        .filter_map(|f| by_field(&TUNING, *f))
        .collect()
}

/// `-d/-i/-c/-u`: the flags of the values a deadline sets itself.
pub fn values_names() -> String {
    flags_of(&Field::SET_BY_DEADLINE)
        .iter()
        .map(|f| f.name())
        .collect::<Vec<_>>()
        .join("/")
}

/// `-D SECONDS [--probes N] [--max-idle SECONDS]`: the deadline with what
/// shapes it (the core's [`Field::SHAPE_A_DEADLINE`]).
pub fn deadline() -> String {
    format!(
        "{} {}",
        DEADLINE.usage(),
        optional(&flags_of(&Field::SHAPE_A_DEADLINE))
    )
}

/// `[-d IDLE] [-i INTVL] [-c CNT] [-u MS]`: the values a deadline sets
/// itself (the core's [`Field::SET_BY_DEADLINE`]).
pub fn values() -> String {
    optional(&flags_of(&Field::SET_BY_DEADLINE))
}

/// `-D SECONDS [--probes N] [--max-idle SECONDS] | [-d IDLE] [-i INTVL]
/// [-c CNT] [-u MS]`: a deadline or separate values, as the core's rules
/// have it.
pub fn deadline_or_values() -> String {
    format!("{} | {}", deadline(), values())
}

/// The options block of a help text: one entry per flag of `flags` (its
/// spellings, its value, its [`help`](Flag::help) among `flags`), then the
/// `extra` entries (`("-h, --help", "this text")`), the help wrapped at a
/// column of its own.
///
/// ```
/// let text = keepalive_flags::text::options(&keepalive_flags::SYSTEM_DEFAULTS, &[]);
/// assert!(text.starts_with("  -d, --idle IDLE              seconds idle before the first probe"));
/// ```
pub fn options(flags: &[&'static Flag], extra: &[(&str, &str)]) -> String {
    let entries = flags
        .iter()
        .map(|f| (spellings(f), f.help(flags)))
        .chain(extra.iter().map(|(s, h)| (s.to_string(), h.to_string())));
    let mut out = String::new();
    for (spelling, help) in entries {
        let mut line = format!("  {spelling}");
        let mut first = true;
        for words in wrap(&help, WIDTH - HELP_COLUMN) {
            if first && line.len() < HELP_COLUMN {
                line = format!("{line:HELP_COLUMN$}{words}");
            } else {
                out.push_str(line.trim_end());
                out.push('\n');
                line = format!("{:HELP_COLUMN$}{words}", "");
            }
            first = false;
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.pop();
    out
}

/// `-d, --idle IDLE`, `    --max-idle SECONDS`.
fn spellings(flag: &Flag) -> String {
    let short = match flag.short {
        Some(c) => format!("-{c}, "),
        None => "    ".into(),
    };
    let value = if flag.takes_value() {
        format!(" {}", flag.value_name)
    } else {
        String::new()
    };
    format!("{short}--{}{value}", flag.long)
}

/// `text`'s words in lines of at most `width` characters (a longer word
/// gets a line of its own).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_fragments_follow_the_core_s_rules() {
        assert_eq!(
            deadline_or_values(),
            "-D SECONDS [--probes N] [--max-idle SECONDS] | [-d IDLE] [-i INTVL] [-c CNT] [-u MS]"
        );
    }

    #[test]
    fn the_options_block() {
        let text = options(&TUNING, &[("-h, --help", "this text")]);
        for line in text.lines() {
            assert!(line.chars().count() <= WIDTH, "{line}");
        }
        assert!(
            text.contains("\n      --probes N               with -D: unanswered probes"),
            "{text}"
        );
        assert!(text.contains("; 1..32767 seconds\n"), "{text}");
        assert!(
            text.ends_with("\n  -h, --help                   this text"),
            "{text}"
        );
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh ij", 4), ["abcdefgh", "ij"]);
    }
}

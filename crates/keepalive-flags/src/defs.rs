//! Each option, defined once: its spellings, the core's value it gives,
//! what its value is called in usage lines, and its doc. The ranges are
//! not written here: the help appends the core's ([`Field::range_text`]),
//! and the rules between the options are the core's
//! ([`Field::SET_BY_DEADLINE`], [`Field::SHAPE_A_DEADLINE`]).

use std::fmt::Write as _;

use keepalive::Field;

/// One option of the command lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The one-letter spelling (`-d`), if any.
    pub short: Option<char>,
    /// The long spelling without its dashes (`idle` for `--idle`).
    pub long: &'static str,
    /// The core's value it gives; `None` for a switch that takes no value.
    pub field: Option<Field>,
    /// The value's name in usage lines (`IDLE`); empty for a switch.
    pub value_name: &'static str,
    /// What it does, in a few words; [`help`](Flag::help) adds the range
    /// and the rules.
    pub doc: &'static str,
}

/// `-d`, `--idle`: `TCP_KEEPIDLE`.
pub const IDLE: Flag = Flag {
    short: Some('d'),
    long: "idle",
    field: Some(Field::Idle),
    value_name: "IDLE",
    doc: "seconds idle before the first probe (TCP_KEEPIDLE)",
};

/// `-i`, `--interval`: `TCP_KEEPINTVL`.
pub const INTERVAL: Flag = Flag {
    short: Some('i'),
    long: "interval",
    field: Some(Field::Interval),
    value_name: "INTVL",
    doc: "seconds between unanswered probes (TCP_KEEPINTVL)",
};

/// `-c`, `--count`: `TCP_KEEPCNT`.
pub const COUNT: Flag = Flag {
    short: Some('c'),
    long: "count",
    field: Some(Field::Count),
    value_name: "CNT",
    doc: "unanswered probes before the peer is dead (TCP_KEEPCNT)",
};

/// `-u`, `--user-timeout`: `TCP_USER_TIMEOUT`.
pub const USER_TIMEOUT: Flag = Flag {
    short: Some('u'),
    long: "user-timeout",
    field: Some(Field::UserTimeout),
    value_name: "MS",
    doc: "milliseconds sent data may stay unacknowledged (TCP_USER_TIMEOUT; 0: the kernel's \
          default)",
};

/// `-D`, `--deadline`: the dead-peer deadline.
pub const DEADLINE: Flag = Flag {
    short: Some('D'),
    long: "deadline",
    field: Some(Field::Deadline),
    value_name: "SECONDS",
    doc: "the dead-peer deadline: a peer silent this long is declared dead, idle or busy \
          (sets idle, interval, count and the user timeout together)",
};

/// `--probes`: how many probes the deadline spends.
pub const PROBES: Flag = Flag {
    short: None,
    long: "probes",
    field: Some(Field::Probes),
    value_name: "N",
    doc: "unanswered probes that declare the peer dead (default 3, fewer where the deadline \
          is too short)",
};

/// `--max-idle`: the silence a middlebox on the path tolerates.
pub const MAX_IDLE: Flag = Flag {
    short: None,
    long: "max-idle",
    field: Some(Field::MaxIdle),
    value_name: "SECONDS",
    doc: "the silence a NAT, firewall or load balancer on the path tolerates (AWS NLB 350, \
          Azure LB 240; `keepalive measure` finds it)",
};

/// `--enforce`: the programs' own keepalive calls get the values too.
pub const ENFORCE: Flag = Flag {
    short: None,
    long: "enforce",
    field: None,
    value_name: "",
    doc: "the programs' own keepalive setsockopt calls (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT, \
          TCP_USER_TIMEOUT) get these values too; without it a program that sets its own \
          keepalive keeps it",
};

/// The values of one connection's keepalive: `keepalive set`, `keepalive
/// cgroup attach`, `keepalive run` and `keepalive-run`. The deadline and
/// what shapes it first, then the values it sets.
pub const TUNING: [&Flag; 7] = [
    &DEADLINE,
    &PROBES,
    &MAX_IDLE,
    &IDLE,
    &INTERVAL,
    &COUNT,
    &USER_TIMEOUT,
];

/// The values a network namespace has defaults for: `keepalive defaults
/// set` (there is no system-wide user timeout or deadline).
pub const SYSTEM_DEFAULTS: [&Flag; 3] = [&IDLE, &INTERVAL, &COUNT];

impl Flag {
    /// How messages name it: `-d`, or `--max-idle` when it has no letter.
    pub fn name(&self) -> String {
        match self.short {
            Some(c) => format!("-{c}"),
            None => format!("--{}", self.long),
        }
    }

    /// Whether it takes a value (else it is a switch).
    pub fn takes_value(&self) -> bool {
        self.field.is_some()
    }

    /// `-d IDLE`, `--max-idle SECONDS`, `--enforce`: as a usage line
    /// writes it.
    pub fn usage(&self) -> String {
        if self.takes_value() {
            format!("{} {}", self.name(), self.value_name)
        } else {
            self.name()
        }
    }

    /// The help line's text among the options of `set` (those of one
    /// command): the doc, the core's range, and the core's rules between
    /// the values, worded with the flags of `set` that they name:
    /// `with -D: ...` for what shapes a deadline, `not with -d/-i/-c/-u`
    /// for the deadline.
    ///
    /// ```
    /// use keepalive_flags::{IDLE, MAX_IDLE, TUNING};
    /// assert_eq!(IDLE.help(&TUNING),
    ///            "seconds idle before the first probe (TCP_KEEPIDLE); 1..32767 seconds");
    /// assert!(MAX_IDLE.help(&TUNING).starts_with("with -D: the silence"));
    /// assert!(MAX_IDLE.help(&[&MAX_IDLE]).starts_with("the silence"));
    /// ```
    pub fn help(&self, set: &[&'static Flag]) -> String {
        let Some(field) = self.field else {
            return self.doc.to_string();
        };
        let deadline = crate::by_field(set, Field::Deadline);
        let mut text = String::new();
        if let Some(d) = deadline.filter(|_| Field::SHAPE_A_DEADLINE.contains(&field)) {
            let _ = write!(text, "with {}: ", d.name());
        }
        let _ = write!(text, "{}; {}", self.doc, field.range_text());
        if field == Field::Deadline {
            text.push_str(" with the default probes");
            if Field::SET_BY_DEADLINE
                .iter()
                .any(|f| crate::by_field(set, *f).is_some())
            {
                let _ = write!(text, "; not with {}", crate::text::values_names());
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_s_help_names_the_flags_it_excludes() {
        let help = DEADLINE.help(&TUNING);
        assert!(
            help.ends_with("; 2..131068 seconds with the default probes; not with -d/-i/-c/-u"),
            "{help}"
        );
        assert_eq!(
            PROBES.help(&TUNING),
            "with -D: unanswered probes that declare the peer dead (default 3, fewer where the \
             deadline is too short); 1..127 probes"
        );
        assert_eq!(ENFORCE.help(&TUNING), ENFORCE.doc);
    }

    /// Each spelling is one flag's only.
    #[test]
    fn spellings_are_unique() {
        let all = [&ENFORCE].into_iter().chain(TUNING);
        let mut seen = Vec::new();
        for flag in all {
            for spelling in [flag.short.map(String::from), Some(flag.long.to_string())]
                .into_iter()
                .flatten()
            {
                assert!(!seen.contains(&spelling), "{spelling} twice");
                seen.push(spelling);
            }
        }
        assert_eq!(
            TUNING.map(Flag::usage).join(" "),
            "-D SECONDS --probes N --max-idle SECONDS -d IDLE -i INTVL -c CNT -u MS"
        );
        assert_eq!(ENFORCE.usage(), "--enforce");
    }
}

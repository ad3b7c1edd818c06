//! The keepalive options of `set`, `cgroup attach`, `defaults set` and
//! `show`, built for clap from keepalive-flags' definitions (the ones
//! keepalive-run reads too): each flag's spellings, value name and help,
//! with the core's parser and range. What was typed becomes the core's
//! [`Request`] at once; the rules between the values are its own.

use std::marker::PhantomData;

use clap::{Arg, ArgAction, ArgGroup, ArgMatches, Args, Command, FromArgMatches};
use keepalive::Request;
use keepalive_flags::{text, Flag, ENFORCE, MAX_IDLE, SYSTEM_DEFAULTS, TUNING};

/// Which of the definitions a command takes.
pub(crate) trait Options {
    /// The flags, in the order of the help.
    const FLAGS: &'static [&'static Flag];
    /// Whether at least one must be given.
    const REQUIRED: bool;
}

/// A marker type for each command's set of options.
macro_rules! options {
    ($($(#[$doc:meta])* $name:ident = $flags:expr, required: $required:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub(crate) struct $name;

        impl Options for $name {
            const FLAGS: &'static [&'static Flag] = $flags;
            const REQUIRED: bool = $required;
        }
    )*};
}

options! {
    /// `keepalive set`: the tuning values, one at least.
    Retune = &TUNING, required: true;
    /// `keepalive cgroup attach`: the tuning values (none: keepalive on with
    /// the system's defaults) and `--enforce`.
    Policy = &[
        TUNING[0], TUNING[1], TUNING[2], TUNING[3], TUNING[4], TUNING[5], TUNING[6], &ENFORCE,
    ], required: false;
    /// `keepalive defaults set`: the values a network namespace has
    /// defaults for, one at least.
    SystemDefaults = &SYSTEM_DEFAULTS, required: true;
    /// `keepalive show --max-idle`.
    Filter = &[&MAX_IDLE], required: false;
}

/// What was typed for the options `O`: the core's request, and whether
/// `--enforce` was given.
#[derive(Debug)]
pub(crate) struct Tuning<O> {
    pub(crate) request: Request,
    pub(crate) enforce: bool,
    options: PhantomData<O>,
}

/// `(-D SECONDS [--probes N] [--max-idle SECONDS] | [-d IDLE] [-i INTVL]
/// [-c CNT] [-u MS])`, for the usage lines of `set` and `cgroup attach`.
pub(crate) fn deadline_or_values() -> String {
    format!("({})", text::deadline_or_values())
}

/// The clap argument of `flag`, among the options `all`: its help the
/// definition's (capitalized, as clap's other lines are), its value parsed
/// and range-checked by the core, so that clap words a bad one
/// (`invalid value 'abc' for '--idle <IDLE>': idle must be ...`).
fn arg(flag: &'static Flag, all: &[&'static Flag]) -> Arg {
    let help = flag.help(all);
    let mut chars = help.chars();
    let help: String = chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect();
    let arg = Arg::new(flag.long).long(flag.long).help(help);
    let arg = match flag.short {
        Some(c) => arg.short(c),
        None => arg,
    };
    match flag.field {
        Some(field) => arg
            .value_name(flag.value_name)
            .allow_negative_numbers(true)
            .value_parser(move |text: &str| field.parse(text).map_err(|e| e.to_string())),
        None => arg.action(ArgAction::SetTrue),
    }
}

impl<O: Options> Args for Tuning<O> {
    fn augment_args(cmd: Command) -> Command {
        let cmd = cmd.args(O::FLAGS.iter().map(|f| arg(f, O::FLAGS)));
        if !O::REQUIRED {
            return cmd;
        }
        cmd.group(
            ArgGroup::new("values")
                .args(O::FLAGS.iter().map(|f| f.long))
                .required(true)
                .multiple(true),
        )
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl<O: Options> FromArgMatches for Tuning<O> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut tuning = Tuning {
            request: Request::new(),
            enforce: false,
            options: PhantomData,
        };
        tuning.update_from_arg_matches(matches)?;
        Ok(tuning)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        for flag in O::FLAGS {
            match flag.field {
                Some(field) => {
                    if let Some(value) = matches.get_one::<i64>(flag.long) {
                        self.request.set(field, *value).map_err(|e| {
                            clap::Error::raw(clap::error::ErrorKind::ValueValidation, e)
                        })?;
                    }
                }
                None => self.enforce |= matches.get_flag(flag.long),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_the_tuning_values_and_enforce() {
        assert_eq!(&Policy::FLAGS[..TUNING.len()], &TUNING[..]);
        assert_eq!(Policy::FLAGS.last(), Some(&&ENFORCE));
    }
}

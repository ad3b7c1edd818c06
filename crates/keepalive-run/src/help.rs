//! keepalive-run's usage line and `--help` text, which the operator's tool
//! also turns into the keepalive-run(1) manual page.

use keepalive::env;
use keepalive::Field;
use keepalive_flags::text::{deadline, optional, values, values_names, wrap};
use keepalive_flags::{DEADLINE, ENFORCE};

use crate::args::FLAGS;

/// `usage: NAME [-d IDLE] [-i INTVL] [-c CNT] [-u MS] [-D SECONDS [--probes
/// N] [--max-idle SECONDS]] [--enforce] -- PROGRAM [ARGS...]`, from the
/// definitions.
pub(crate) fn usage(name: &str) -> String {
    format!(
        "usage: {name} {} [{}] {} -- PROGRAM [ARGS...]",
        values(),
        deadline(),
        optional(&[&ENFORCE]),
    )
}

/// The help text `--help` prints, naming the program `name`: the one
/// description of the options, which the operator's tool also turns into
/// the keepalive-run(1) manual page. The options are the definitions'
/// (keepalive-flags), the variables the core's names.
pub fn help_text(name: &str) -> String {
    let options = keepalive_flags::text::options(
        &FLAGS,
        &[
            ("-h, --help", "this text"),
            ("-V, --version", "the version"),
        ],
    );
    let names = |fields: &[Field]| fields.iter().map(|f| env::name(*f)).collect::<Vec<_>>();
    let variables = format!(
        "The values reach the library as {}, with {on}=on and {enforce}=1 (--enforce) or 0: \
         they win over the same variables inherited from the environment (an inherited \
         {on}=off included; {deadline} also drops inherited {separate}, and {values} an \
         inherited {shaping}). The library is appended to LD_PRELOAD. Without --enforce, the \
         first of the program's own calls that overrides each value is named on stderr.",
        names(&Field::ALL).join(", "),
        on = env::KEEPALIVE,
        enforce = env::ENFORCE,
        deadline = DEADLINE.name(),
        separate = names(&Field::SET_BY_DEADLINE).join(", "),
        values = values_names(),
        shaping = names(&[&[Field::Deadline][..], &Field::SHAPE_A_DEADLINE].concat()).join(", "),
    );
    format!(
        "\
{usage}

Runs PROGRAM with TCP keepalive turned on for every TCP socket it creates
(IPv4 and IPv6, TCP and MPTCP), through the LD_PRELOAD library
libkeepalive-preload.so.

Options (each left at the system default when not given):
{options}

{variables}

Exit status: PROGRAM's; 2 for bad arguments; 125 when the library is
missing or cannot be loaded, or PROGRAM is statically linked or setuid
(no preload library reaches those: see `keepalive cgroup`); 126 when
PROGRAM cannot be executed; 127 when it is not found.

Examples:
  {name} -D 60 -- ssh host.example.org
  {name} -D 900 --max-idle 350 -- psql -h db.example.org
  {name} -D 10 --enforce -- curl https://example.org/  (curl sets 60 s itself)
  {name} -d 60 -i 10 -c 5 -- ssh host.example.org",
        usage = usage(name),
        variables = wrap(&variables, 72).join("\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_names_the_program_as_called() {
        let text = help_text("keepalive run");
        assert!(text.starts_with("usage: keepalive run [-d IDLE]"), "{text}");
        assert!(text.contains("  keepalive run -d 60"), "{text}");
    }
}

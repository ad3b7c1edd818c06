//! What a caller asked for, from any front door, and the rules between the
//! values: the one place that decides what may be given together.

use std::time::Duration;

use crate::{limits, user_timeout_from_millis, Config, Deadline, Error, Field};

/// What a caller asked for, as plain integers: every front door (the C and
/// Python bindings, the command lines, the environment of the `LD_PRELOAD`
/// mode) fills one from what it was given, value by value
/// ([`set`](Self::set), [`parse`](Self::parse)), and gets the settings to
/// apply from [`config`](Self::config). `None` is a value not given.
///
/// The rules between the values live here, with one behaviour for every
/// door:
/// - a deadline sets idle, interval, count and the user timeout itself, so
///   none of them can be given with it: [`Error::Excludes`], naming the
///   value given with the deadline as the one at fault;
/// - `probes` and `max_idle` shape a deadline, so each needs one:
///   [`Error::Requires`];
/// - probes the deadline is too short for, and a `max_idle` it cannot keep,
///   are the deadline's own checks ([`Deadline`]).
///
/// A door that can refuse (a function call, a command line) refuses the
/// whole request with that error and changes nothing; the `LD_PRELOAD`
/// library, which must never make a program fail, ignores the value at
/// fault with one warning, as it does any invalid value
/// ([`env::read`](crate::env::read)).
///
/// ```
/// use keepalive::{Field, Request};
/// let mut r = Request::new();
/// r.parse(Field::Deadline, "60")?;
/// r.set(Field::MaxIdle, 40)?;
/// let c = r.config()?;
/// assert_eq!((c.idle.unwrap().as_secs(), c.interval.unwrap().as_secs(), c.count), (30, 3, Some(10)));
///
/// r.set(Field::Idle, 10)?;                    // each value is in range ...
/// assert_eq!(r.config().unwrap_err().field(), Some(Field::Idle)); // ... but not with a deadline
/// # Ok::<(), keepalive::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Request {
    /// The dead-peer deadline, seconds ([`Field::Deadline`]).
    pub deadline: Option<i64>,
    /// Probes the deadline spends ([`Field::Probes`]); with a deadline only.
    pub probes: Option<i64>,
    /// The silence a middlebox tolerates, seconds ([`Field::MaxIdle`]); with
    /// a deadline only.
    pub max_idle: Option<i64>,
    /// `TCP_KEEPIDLE`, seconds ([`Field::Idle`]).
    pub idle: Option<i64>,
    /// `TCP_KEEPINTVL`, seconds ([`Field::Interval`]).
    pub interval: Option<i64>,
    /// `TCP_KEEPCNT`, probes ([`Field::Count`]).
    pub count: Option<i64>,
    /// `TCP_USER_TIMEOUT`, milliseconds ([`Field::UserTimeout`]).
    pub user_timeout_ms: Option<i64>,
}

impl Request {
    /// A request with nothing given: [`config`](Self::config) is an empty
    /// [`Config`] (keepalive on, nothing else changed).
    pub const fn new() -> Self {
        Request {
            deadline: None,
            probes: None,
            max_idle: None,
            idle: None,
            interval: None,
            count: None,
            user_timeout_ms: None,
        }
    }

    fn slot(&mut self, field: Field) -> &mut Option<i64> {
        match field {
            Field::Idle => &mut self.idle,
            Field::Interval => &mut self.interval,
            Field::Count => &mut self.count,
            Field::UserTimeout => &mut self.user_timeout_ms,
            Field::Deadline => &mut self.deadline,
            Field::MaxIdle => &mut self.max_idle,
            Field::Probes => &mut self.probes,
        }
    }

    /// The value given for `field`, if any.
    pub fn get(&self, field: Field) -> Option<i64> {
        *Request::clone(self).slot(field)
    }

    /// Gives `field` the value `value`, checked against the field's range
    /// ([`Field::check`]; a deadline longer than its default probes allow
    /// is kept for [`config`](Self::config) to check with the probes); out
    /// of range, nothing changes. The rules between
    /// the values are checked by [`config`](Self::config), once all are in.
    pub fn set(&mut self, field: Field, value: i64) -> Result<(), Error> {
        *self.slot(field) = Some(admit(field, value)?);
        Ok(())
    }

    /// Gives `field` the value written in `text` ([`Field::parse`]: the one
    /// syntax of the command lines and the environment).
    ///
    /// ```
    /// let mut r = keepalive::Request::new();
    /// let err = r.parse(keepalive::Field::Count, "many").unwrap_err();
    /// assert_eq!(err.to_string(), r#"count must be 1..127 probes, got "many""#);
    /// assert_eq!(r, keepalive::Request::new());
    /// ```
    pub fn parse(&mut self, field: Field, text: impl AsRef<[u8]>) -> Result<(), Error> {
        let value = match field.parse(&text) {
            Err(e) if field == Field::Deadline => crate::field::number(text.as_ref())
                .filter(|&v| admit(field, v).is_ok())
                .ok_or(e)?,
            parsed => parsed?,
        };
        *self.slot(field) = Some(value);
        Ok(())
    }

    /// Forgets the value of `field` (a door that ignores the value at fault).
    pub fn clear(&mut self, field: Field) {
        *self.slot(field) = None;
    }

    /// The values given, in [`Field::ALL`]'s order.
    pub fn given(&self) -> impl Iterator<Item = (Field, i64)> + '_ {
        Field::ALL
            .into_iter()
            .filter_map(move |f| self.get(f).map(|v| (f, v)))
    }

    /// Whether nothing was given.
    pub fn is_empty(&self) -> bool {
        self.given().next().is_none()
    }

    /// Checks the whole request, values and rules, without building
    /// anything: what [`config`](Self::config) would refuse, this refuses
    /// with the same error.
    pub fn check(&self) -> Result<(), Error> {
        self.deadline().map(drop)
    }

    /// The deadline asked for, shaped by its probes and `max_idle`, after
    /// every check (ranges, then the rules); `None` when none was given.
    ///
    /// ```
    /// let mut r = keepalive::Request::new();
    /// r.probes = Some(2);
    /// assert_eq!(r.deadline().unwrap_err().to_string(), "probes goes with deadline: give deadline too");
    /// r.deadline = Some(30);
    /// assert_eq!(r.deadline()?.unwrap().after().as_secs(), 30);
    /// # Ok::<(), keepalive::Error>(())
    /// ```
    pub fn deadline(&self) -> Result<Option<Deadline>, Error> {
        Ok(self.split()?.map(|(deadline, _)| deadline))
    }

    /// The settings to apply: the deadline's split, or the values given.
    /// Refuses what [`deadline`](Self::deadline) refuses.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut r = keepalive::Request::new();
    /// r.idle = Some(60);
    /// r.user_timeout_ms = Some(0);
    /// let c = r.config()?;
    /// assert_eq!((c.idle, c.interval, c.user_timeout), (Some(Duration::from_secs(60)), None, Some(Duration::ZERO)));
    /// # Ok::<(), keepalive::Error>(())
    /// ```
    pub fn config(&self) -> Result<Config, Error> {
        if let Some((_, config)) = self.split()? {
            return Ok(config);
        }
        let mut config = Config::from_secs(self.idle, self.interval, self.count)?;
        config.user_timeout = self
            .user_timeout_ms
            .map(user_timeout_from_millis)
            .transpose()?;
        Ok(config)
    }

    /// Every check, in order (each value's range, the deadline's own, then
    /// the rules), and the deadline with its split, computed once.
    fn split(&self) -> Result<Option<(Deadline, Config)>, Error> {
        for (field, value) in self.given() {
            admit(field, value)?;
        }
        let Some(d) = self.deadline else {
            if let Some(field) = self.first_of(&Field::SHAPE_A_DEADLINE) {
                return Err(Error::Requires {
                    field,
                    needs: Field::Deadline,
                });
            }
            return Ok(None);
        };
        // The deadline's own checks (its length with its probes, a max_idle
        // it cannot keep) come before the rule, so that a bad deadline is
        // the value at fault rather than the values beside it.
        let split = Deadline::split_secs(d, self.probes, self.max_idle)?;
        if let Some(field) = self.first_of(&Field::SET_BY_DEADLINE) {
            return Err(Error::Excludes {
                field,
                by: Field::Deadline,
            });
        }
        Ok(Some(split))
    }

    /// The first of `fields` given, if any.
    fn first_of(&self, fields: &[Field]) -> Option<Field> {
        fields.iter().copied().find(|f| self.get(*f).is_some())
    }
}

/// A value's own range, before the rules. A deadline's depends on its
/// probes (more probes allow a longer one): here only what no probes allow
/// is refused, with [`Field::Deadline`]'s message; the deadline checks the
/// rest with its probes.
fn admit(field: Field, value: i64) -> Result<i64, Error> {
    match field {
        Field::Deadline
            if (limits::MIN_DEADLINE_SECS..=limits::MAX_DEADLINE_SECS).contains(&value) =>
        {
            Ok(value)
        }
        _ => field.check(value),
    }
}

impl From<Deadline> for Request {
    /// The request a [`Deadline`] stands for (its length, probes and
    /// `max_idle`, in whole seconds).
    fn from(d: Deadline) -> Self {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Request {
            deadline: Some(secs(d.after())),
            probes: d.probes_given().map(i64::from),
            max_idle: d.max_idle_given().map(secs),
            ..Request::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(values: &[(Field, i64)]) -> Request {
        let mut r = Request::new();
        for &(f, v) in values {
            *r.slot(f) = Some(v);
        }
        r
    }

    #[test]
    fn a_deadline_excludes_each_value_it_sets_and_names_it() {
        for knob in Field::SET_BY_DEADLINE {
            let r = request(&[(Field::Deadline, 60), (knob, 5)]);
            let err = r.config().unwrap_err();
            assert!(
                matches!(err, Error::Excludes { field, by: Field::Deadline } if field == knob),
                "{err:?}"
            );
            assert_eq!(err.field(), Some(knob));
            assert!(err.is_invalid_value());
            assert_eq!(err.raw_os_error(), crate::sys::EINVAL);
            assert_eq!(
                err.to_string(),
                format!(
                    "{} cannot be given with deadline: deadline sets idle, interval, count \
                     and user_timeout together",
                    knob.name()
                )
            );
        }
    }

    #[test]
    fn probes_and_max_idle_need_a_deadline() {
        for shape in Field::SHAPE_A_DEADLINE {
            let r = request(&[(shape, 10), (Field::Idle, 30)]);
            let err = r.check().unwrap_err();
            assert!(
                matches!(err, Error::Requires { field, needs: Field::Deadline } if field == shape),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!("{} goes with deadline: give deadline too", shape.name())
            );
        }
    }

    #[test]
    fn ranges_come_before_the_rules() {
        let r = request(&[(Field::Deadline, 60), (Field::Idle, 0)]);
        assert_eq!(
            r.config().unwrap_err().to_string(),
            "idle must be 1..32767 seconds, got 0"
        );
        let r = request(&[(Field::Probes, 0)]);
        assert_eq!(r.config().unwrap_err().field(), Some(Field::Probes));
    }

    #[test]
    fn the_deadline_is_the_deadlines_own() {
        use Field::{Deadline as D, MaxIdle, Probes};
        let r = request(&[(D, 60), (Probes, 4), (MaxIdle, 40)]);
        let want = Deadline::from_secs(60, Some(4))
            .and_then(|d| d.max_idle_from_secs(40))
            .unwrap();
        assert_eq!(r.deadline().unwrap(), Some(want));
        assert_eq!(r.config().unwrap(), want.config().unwrap());
        assert_eq!(Request::from(want), r);
        let err = request(&[(D, 4), (Probes, 9)]).config().unwrap_err();
        assert_eq!(
            err.to_string(),
            "probes must be 1..3 probes for this deadline, got 9"
        );
        let err = request(&[(D, 60), (Probes, 3), (MaxIdle, 10)])
            .config()
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }));
    }

    /// A deadline longer than 3 probes allow is taken with more probes,
    /// whichever order the values come in, and refused without them.
    #[test]
    fn a_long_deadline_waits_for_its_probes() {
        let mut r = Request::new();
        r.parse(Field::Deadline, "200000").unwrap();
        assert_eq!(
            r.config().unwrap_err().to_string(),
            "deadline must be 2..131068 seconds, got 200000"
        );
        r.parse(Field::Probes, "127").unwrap();
        assert_eq!(
            r.config().unwrap().user_timeout,
            Some(Duration::from_secs(200_000))
        );
        for text in ["1", "2147484", "x"] {
            let err = r.parse(Field::Deadline, text).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("deadline must be 2..131068 seconds, got"),
                "{err}"
            );
            assert_eq!(r.deadline, Some(200_000));
        }
    }

    #[test]
    fn values_without_a_deadline_are_the_config() {
        let r = request(&[
            (Field::Idle, 30),
            (Field::Interval, 7),
            (Field::Count, 4),
            (Field::UserTimeout, 5000),
        ]);
        assert_eq!(
            r.config().unwrap(),
            Config::from_secs(Some(30), Some(7), Some(4))
                .unwrap()
                .user_timeout(Duration::from_millis(5000))
        );
        assert_eq!(Request::new().config().unwrap(), Config::new());
        assert!(Request::new().is_empty());
        assert_eq!(r.given().count(), 4);
    }

    #[test]
    fn set_and_parse_check_and_change_nothing_on_error() {
        let mut r = Request::new();
        assert!(r.set(Field::Count, 128).is_err());
        assert!(r.parse(Field::Deadline, "1").is_err());
        assert_eq!(r, Request::new());
        r.parse(Field::UserTimeout, " 0 ").unwrap();
        assert_eq!(r.get(Field::UserTimeout), Some(0));
        r.clear(Field::UserTimeout);
        assert!(r.is_empty());
    }
}

//! The running kernel's HZ: how many jiffies (the unit of TCP's own
//! timestamps, such as `rcv_tstamp`) make a second. It is a build option
//! (`CONFIG_HZ`: 100, 250, 300 or 1000 on most architectures), so it is
//! looked up, never assumed:
//!
//! 1. the kernel's configuration, `/proc/config.gz` (`CONFIG_IKCONFIG_PROC`,
//!    read with `gzip -dc`) or `/boot/config-RELEASE` (what distributions
//!    install beside the kernel);
//! 2. else measured: `/proc/timer_list` (root only) shows the jiffies counter
//!    beside the monotonic clock; two readings 200 ms apart give the rate,
//!    rounded to the nearest known HZ.

use std::fs;
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::Error;

/// The values `CONFIG_HZ` takes across architectures.
const KNOWN: [u32; 9] = [24, 48, 100, 128, 250, 256, 300, 1000, 1024];

/// The kernel's HZ, from its configuration or measured.
pub(crate) fn kernel_hz() -> Result<u32, Error> {
    let mut tried = Vec::new();
    let release = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    match Command::new("gzip")
        .args(["-dc", "/proc/config.gz"])
        .output()
    {
        Ok(out) if out.status.success() => {
            if let Some(hz) = config_hz(&String::from_utf8_lossy(&out.stdout)) {
                return Ok(hz);
            }
            tried.push("/proc/config.gz has no CONFIG_HZ".to_string());
        }
        Ok(_) => tried.push("/proc/config.gz is missing or unreadable".to_string()),
        Err(e) => tried.push(format!("gzip: {e}")),
    }
    let boot = format!("/boot/config-{release}");
    match fs::read_to_string(&boot) {
        Ok(text) => match config_hz(&text) {
            Some(hz) => return Ok(hz),
            None => tried.push(format!("{boot} has no CONFIG_HZ")),
        },
        Err(e) => tried.push(format!("{boot}: {}", crate::error_text(&e))),
    }
    match measure() {
        Ok(hz) => Ok(hz),
        Err(why) => {
            tried.push(why);
            Err(Error::UnknownHz {
                tried: tried.join("; "),
            })
        }
    }
}

/// `CONFIG_HZ=N` in a kernel configuration.
fn config_hz(text: &str) -> Option<u32> {
    text.lines()
        .find_map(|l| l.strip_prefix("CONFIG_HZ="))
        .and_then(|v| v.trim().parse().ok())
        .filter(|&hz| hz > 0)
}

/// The monotonic clock (ns) and the jiffies counter, from the text of
/// `/proc/timer_list`: `now at N nsecs`, then the first `jiffies: N`.
fn timer_list_sample(text: &str) -> Option<(u64, u64)> {
    let now = text.lines().find_map(|l| {
        l.strip_prefix("now at ")?
            .strip_suffix(" nsecs")?
            .trim()
            .parse()
            .ok()
    })?;
    let jiffies = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("jiffies: ")?.trim().parse().ok())?;
    Some((now, jiffies))
}

/// The known HZ nearest to a measured rate, if one is within 5 %.
fn nearest_known(rate: f64) -> Option<u32> {
    KNOWN
        .into_iter()
        .min_by(|a, b| {
            (f64::from(*a) - rate)
                .abs()
                .total_cmp(&(f64::from(*b) - rate).abs())
        })
        .filter(|&hz| (f64::from(hz) - rate).abs() <= f64::from(hz) * 0.05)
}

fn measure() -> Result<u32, String> {
    let read = || {
        let text = fs::read_to_string("/proc/timer_list")
            .map_err(|e| format!("/proc/timer_list: {}", crate::error_text(&e)))?;
        timer_list_sample(&text).ok_or_else(|| "/proc/timer_list has no jiffies".to_string())
    };
    let (t0, j0) = read()?;
    thread::sleep(Duration::from_millis(200));
    let (t1, j1) = read()?;
    let secs = t1.saturating_sub(t0) as f64 / 1e9;
    let rate = j1.saturating_sub(j0) as f64 / secs.max(1e-9);
    nearest_known(rate)
        .ok_or_else(|| format!("/proc/timer_list gives {rate:.0} jiffies a second, no known HZ"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_a_configuration() {
        assert_eq!(
            config_hz("# CONFIG_HZ_100 is not set\nCONFIG_HZ_250=y\nCONFIG_HZ=250\n"),
            Some(250)
        );
        assert_eq!(config_hz("CONFIG_HZ_1000=y\n"), None);
    }

    #[test]
    fn from_the_timer_list() {
        let text = "Timer List Version: v0.10\nnow at 295426385701 nsecs\n\ncpu: 0\n \
                    .idle_jiffies   : 4294966078\njiffies: 4294966093\n";
        assert_eq!(
            timer_list_sample(text),
            Some((295_426_385_701, 4_294_966_093))
        );
        assert_eq!(nearest_known(249.2), Some(250));
        assert_eq!(nearest_known(1003.0), Some(1000));
        assert_eq!(nearest_known(101.0), Some(100));
        assert_eq!(nearest_known(180.0), None);
    }

    #[test]
    fn this_kernel_has_one() {
        // Every source may be closed to a non-root caller: then say why.
        match kernel_hz() {
            Ok(hz) => assert!(KNOWN.contains(&hz), "{hz}"),
            Err(e) => assert!(e.to_string().contains("/proc/timer_list"), "{e}"),
        }
    }
}

//! When to try a failed request again: exponential backoff with full jitter, and the
//! endpoint's own `Retry-After` when it sends one.

use std::time::{Duration, SystemTime};

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Tries in all (the first included).
    pub attempts: u32,
    /// Wait before the second try; doubles each time.
    pub base: Duration,
    /// Longest wait between tries, `Retry-After` included (an endpoint asking for an hour
    /// is treated as failing).
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 5,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The default waits, with `retries` tries after the first.
    pub fn with_retries(retries: u32) -> Self {
        Backoff {
            attempts: retries.saturating_add(1),
            ..Backoff::default()
        }
    }

    /// The wait after failed try number `attempt` (1 for the first): the endpoint's
    /// `retry_after` when given (capped), else a random time up to `base · 2^(attempt-1)`
    /// (capped) — "full jitter", so that threads which failed together do not come back
    /// together.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(d) = retry_after {
            return d.min(self.cap);
        }
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// A `Retry-After` value: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_and_retry_after_wins() {
        let b = Backoff {
            attempts: 6,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        for attempt in 1..=10 {
            let d = b.delay(attempt, None);
            let ceiling = Duration::from_millis(100 << (attempt - 1).min(4)).min(b.cap);
            assert!(d <= ceiling, "{attempt}: {d:?} > {ceiling:?}");
        }
        assert_eq!(
            b.delay(1, Some(Duration::from_millis(700))),
            Duration::from_millis(700)
        );
        assert_eq!(b.delay(1, Some(Duration::from_secs(3600))), b.cap);
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        let soon = SystemTime::now() + Duration::from_secs(30);
        let d = parse_retry_after(&httpdate::fmt_http_date(soon)).unwrap();
        assert!(
            d <= Duration::from_secs(30) && d >= Duration::from_secs(28),
            "{d:?}"
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}

//! Owns when a GitHub answer is worth another attempt and how long to wait before it: `Retry-After` for
//! secondary rate limits, `x-ratelimit-reset` for a used-up primary limit, backoff with jitter for 5xx and
//! broken connections. Pure: the client's loop applies the verdict within its attempts and deadline.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use reqwest::header::HeaderMap;

use crate::http::parse_retry_after;

/// What to do after a failed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Retrying can't help: report it.
    Final,
    /// GitHub said how long to wait (a secondary rate limit).
    Wait { wait: Duration, why: &'static str },
    /// The token's primary rate limit is used up until this epoch second.
    Reset { at: u64 },
    /// A server error: back off and try again.
    Backoff,
}

/// GitHub's documented pause for a secondary rate limit that names no time: "wait at least one minute".
pub(crate) const SECONDARY_DEFAULT: Duration = Duration::from_secs(60);

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The verdict for an answer with `status`, its headers and GitHub's `message`.
pub(crate) fn classify(
    status: u16,
    headers: &HeaderMap,
    message: &str,
    now: SystemTime,
) -> Verdict {
    let retry_after = header(headers, "retry-after").and_then(|v| parse_retry_after(v, now));
    let used_up = header(headers, "x-ratelimit-remaining") == Some("0");
    let reset = header(headers, "x-ratelimit-reset").and_then(|v| v.parse::<u64>().ok());
    let secondary = message
        .to_ascii_lowercase()
        .contains("secondary rate limit");
    match status {
        403 | 429 => {
            if let Some(wait) = retry_after {
                Verdict::Wait {
                    wait,
                    why: "Retry-After",
                }
            } else if let (true, Some(at)) = (used_up, reset) {
                Verdict::Reset { at }
            } else if secondary {
                Verdict::Wait {
                    wait: SECONDARY_DEFAULT,
                    why: "secondary rate limit",
                }
            } else if status == 429 {
                Verdict::Backoff
            } else {
                Verdict::Final
            }
        }
        500..=599 => match retry_after {
            Some(wait) => Verdict::Wait {
                wait,
                why: "Retry-After",
            },
            None => Verdict::Backoff,
        },
        _ => Verdict::Final,
    }
}

/// How long until the epoch second `at`, plus one second because the limit resets *at* that second.
pub(crate) fn until_reset(at: u64, now: SystemTime) -> Duration {
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    Duration::from_secs(at.saturating_sub(now) + 1)
}

/// `2026-05-01T12:00:00Z` for an epoch second.
pub(crate) fn utc(at: u64) -> String {
    i64::try_from(at)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("epoch second {at}"))
}

/// `base` doubled per attempt (the first retry waits `base`), capped at 8 s, with jitter between half and
/// the whole, so clients retrying together spread out.
pub(crate) fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(10))
        .min(Duration::from_secs(8));
    exp.mul_f64(rand::rng().random_range(0.5..=1.0))
}

/// `1s`, `0.3s`, `2m 5s`.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs >= 60.0 {
        let whole = d.as_secs();
        format!("{}m {}s", whole / 60, whole % 60)
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{secs:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    const NOW: u64 = 1_760_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn secondary_limit_honours_retry_after() {
        let v = classify(
            403,
            &headers(&[("retry-after", "7"), ("x-ratelimit-remaining", "4000")]),
            "You have exceeded a secondary rate limit",
            now(),
        );
        assert_eq!(
            v,
            Verdict::Wait {
                wait: Duration::from_secs(7),
                why: "Retry-After"
            }
        );
        let v = classify(429, &headers(&[("retry-after", "2")]), "", now());
        assert_eq!(
            v,
            Verdict::Wait {
                wait: Duration::from_secs(2),
                why: "Retry-After"
            }
        );
    }

    #[test]
    fn secondary_limit_without_a_time_waits_the_documented_minute() {
        let v = classify(
            403,
            &HeaderMap::new(),
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            now(),
        );
        assert_eq!(
            v,
            Verdict::Wait {
                wait: SECONDARY_DEFAULT,
                why: "secondary rate limit"
            }
        );
    }

    #[test]
    fn primary_limit_waits_for_the_reset() {
        let reset = (NOW + 30).to_string();
        let v = classify(
            403,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", reset.as_str()),
            ]),
            "API rate limit exceeded for installation ID 1.",
            now(),
        );
        assert_eq!(v, Verdict::Reset { at: NOW + 30 });
        assert_eq!(until_reset(NOW + 30, now()), Duration::from_secs(31));
        assert_eq!(until_reset(NOW - 5, now()), Duration::from_secs(1));
        assert_eq!(utc(NOW), "2025-10-09T08:53:20Z");
    }

    #[test]
    fn other_client_errors_are_final_and_server_errors_back_off() {
        let plenty = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(
            classify(
                403,
                &plenty,
                "Resource not accessible by integration",
                now()
            ),
            Verdict::Final
        );
        assert_eq!(classify(404, &plenty, "Not Found", now()), Verdict::Final);
        assert_eq!(
            classify(422, &plenty, "Validation Failed", now()),
            Verdict::Final
        );
        assert_eq!(
            classify(502, &plenty, "Server Error", now()),
            Verdict::Backoff
        );
        assert_eq!(classify(429, &plenty, "", now()), Verdict::Backoff);
        // A used-up limit without a reset time can't be waited for.
        let no_reset = headers(&[("x-ratelimit-remaining", "0")]);
        assert_eq!(classify(403, &no_reset, "", now()), Verdict::Final);
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let base = Duration::from_millis(500);
        for _ in 0..50 {
            let first = backoff(base, 1);
            assert!(
                first >= Duration::from_millis(250) && first <= base,
                "{first:?}"
            );
            let third = backoff(base, 3);
            assert!(third >= Duration::from_secs(1) && third <= Duration::from_secs(2));
            assert!(backoff(base, 30) <= Duration::from_secs(8));
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::from_secs(1)), "1s");
        assert_eq!(human(Duration::from_millis(300)), "0.3s");
        assert_eq!(human(Duration::from_secs(125)), "2m 5s");
    }
}

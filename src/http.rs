//! Owns the HTTP rules every client here shares (the registry and GitHub clients): reading `Retry-After`.

use std::time::Duration;

/// `Retry-After` as seconds or as an HTTP date (RFC 9110); a date in the past means "now".
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use gitops_promote::http::parse_retry_after;
/// let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480);
/// assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now), Some(Duration::from_secs(10)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

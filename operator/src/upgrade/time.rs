//! The bridge between the core's times (chrono) and the status's (jiff, through
//! k8s-openapi's `Time`).

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// A chrono time as a Kubernetes `Time`, to the nanosecond.
pub fn to_k8s(t: DateTime<Utc>) -> Time {
    let nanos = t
        .timestamp_nanos_opt()
        .map(i128::from)
        .unwrap_or_else(|| i128::from(t.timestamp()) * 1_000_000_000);
    Time(Timestamp::from_nanosecond(nanos).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// A Kubernetes `Time` as chrono.
pub fn from_k8s(t: &Time) -> DateTime<Utc> {
    let nanos = t.0.as_nanosecond();
    DateTime::from_timestamp_nanos(i64::try_from(nanos).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_to_the_nanosecond() {
        let t = DateTime::from_timestamp_nanos(1_732_406_400_123_456_789);
        assert_eq!(from_k8s(&to_k8s(t)), t);
    }
}

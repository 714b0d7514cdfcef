//! Setting conditions the way Kubernetes conventions (and kstatus) expect: one entry per
//! type, `observedGeneration` on each, and `lastTransitionTime` kept unless the status flips,
//! so "since when" stays meaningful and an unchanged status writes no diff.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Sets (or adds) the condition of `type_`.
pub fn set(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: &Time,
) {
    let status = if status { "True" } else { "False" }.to_owned();
    let message = message.into();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = now.clone();
            }
            c.status = status;
            c.reason = reason.to_owned();
            c.message = message;
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_owned(),
            status,
            reason: reason.to_owned(),
            message,
            observed_generation: generation,
            last_transition_time: now.clone(),
        }),
    }
}

/// Whether the condition of `type_` is True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn t(s: i64) -> Time {
        Time(Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH))
    }

    #[test]
    fn last_transition_time_moves_only_when_the_status_flips() {
        let mut c = Vec::new();
        set(
            &mut c,
            "Ready",
            false,
            "Upgrading",
            "step 1",
            Some(1),
            &t(10),
        );
        set(
            &mut c,
            "Ready",
            false,
            "Upgrading",
            "step 2",
            Some(1),
            &t(20),
        );
        assert_eq!(c[0].last_transition_time, t(10));
        assert_eq!(c[0].message, "step 2");
        set(&mut c, "Ready", true, "UpToDate", "done", Some(2), &t(30));
        assert_eq!(c[0].last_transition_time, t(30));
        assert_eq!(c[0].observed_generation, Some(2));
        assert_eq!(c.len(), 1);
        assert!(is_true(&c, "Ready"));
    }
}

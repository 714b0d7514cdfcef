//! Simulated time. One clock for the whole fleet: simulated seconds = real monotonic seconds
//! since start × `time_scale`. Everything the world schedules is in simulated seconds; what a
//! client sees on the wire (timestamps) is the real wall-clock instant of the same moment, so
//! the operator, which runs on real time, never learns it is being simulated.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};

/// Converts between real and simulated time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SimClock {
    start: Instant,
    start_wall: DateTime<Utc>,
    scale: f64,
}

impl SimClock {
    pub(crate) fn new(scale: f64) -> Self {
        Self {
            start: Instant::now(),
            start_wall: Utc::now(),
            scale,
        }
    }

    pub(crate) fn scale(&self) -> f64 {
        self.scale
    }

    /// Simulated seconds since start.
    pub(crate) fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * self.scale
    }

    /// The real instant at which simulated time reaches `sim_s`.
    pub(crate) fn instant_at(&self, sim_s: f64) -> Instant {
        self.start + Duration::from_secs_f64((sim_s / self.scale).max(0.0))
    }

    /// Real seconds since start at simulated time `sim_s`.
    pub(crate) fn real_s(&self, sim_s: f64) -> f64 {
        sim_s / self.scale
    }

    /// The wall-clock time of simulated instant `sim_s`.
    pub(crate) fn wall_at(&self, sim_s: f64) -> DateTime<Utc> {
        let real = Duration::from_secs_f64(self.real_s(sim_s).max(0.0));
        self.start_wall + chrono::Duration::from_std(real).unwrap_or_default()
    }

    /// RFC 3339 with `+00:00`, as the vendor API writes times.
    pub(crate) fn rfc3339_at(&self, sim_s: f64) -> String {
        rfc3339(self.wall_at(sim_s))
    }
}

/// RFC 3339, second precision, explicit `+00:00` offset.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

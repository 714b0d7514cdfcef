//! Go-style durations (`24h`, `1h30m`, `90s`, `1.5h`, `250ms`) as the CRD schema accepts them,
//! parsed here so the decision core needs no Kubernetes crate.

use chrono::Duration;

/// Parses a non-negative Go-style duration; `None` when it does not parse.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(Duration::zero());
    }
    if rest.is_empty() || rest.starts_with('-') {
        return None;
    }
    rest = rest.strip_prefix('+').unwrap_or(rest);
    let mut total_ns: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        let value: f64 = number.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total_ns += value * scale;
        rest = tail;
    }
    // Durations beyond a few centuries have no meaning here; refuse rather than overflow.
    (total_ns.is_finite() && total_ns < 1e19).then(|| Duration::nanoseconds(total_ns as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_schema_accepts() {
        assert_eq!(parse_duration("24h"), Some(Duration::hours(24)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("1.5h"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("90s"), Some(Duration::seconds(90)));
        assert_eq!(parse_duration("250ms"), Some(Duration::milliseconds(250)));
        assert_eq!(parse_duration("0"), Some(Duration::zero()));
    }

    #[test]
    fn refuses_what_has_no_meaning() {
        for bad in ["", "-1h", "1d", "h", "1h-5m", "abc"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}

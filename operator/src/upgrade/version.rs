//! Software versions: the decision core owns them; the appliance client parses into them.
//!
//! Product versions look like `24.3.2` (older `19.1.8`) and `check_health` reports them as
//! `24.3.2 (build-8f3c2a)`; base software has its own numbering (`5.2.0`). [`Version`] is the
//! dotted numeric part, ordered numerically (`24.10.0 > 24.9.1`) with trailing zeros
//! insignificant (`24.3 == 24.3.0`), so plans can compare versions without string tricks.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// A dotted numeric version such as `24.3.2`.
#[derive(Clone, Default)]
pub struct Version {
    parts: Vec<u32>,
}

/// Why a version string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse version {input:?}: expected dotted numbers such as 24.3.2")]
pub struct ParseVersionError {
    input: String,
}

impl Version {
    /// Builds a version from its numeric parts.
    pub fn new(parts: impl Into<Vec<u32>>) -> Self {
        Self {
            parts: parts.into(),
        }
    }

    /// The numeric parts as written (`24.3` has two).
    pub fn parts(&self) -> &[u32] {
        &self.parts
    }

    /// The first part (`24` in `24.3.2`): the product's release line.
    pub fn major(&self) -> u32 {
        self.parts.first().copied().unwrap_or(0)
    }

    /// Parts without trailing zeros, the canonical form for comparison and hashing.
    fn significant(&self) -> &[u32] {
        let len = self
            .parts
            .iter()
            .rposition(|p| *p != 0)
            .map_or(0, |i| i + 1);
        &self.parts[..len]
    }
}

impl FromStr for Version {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError {
            input: s.to_owned(),
        };
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(err());
        }
        let parts = trimmed
            .split('.')
            .map(|p| {
                // `u32::from_str` accepts a leading '+', which is not a version.
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err());
                }
                p.parse::<u32>().map_err(|_| err())
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { parts })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.parts.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({self})")
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.significant().cmp(other.significant())
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must agree with `Eq`, which ignores trailing zeros.
        self.significant().hash(state);
    }
}

impl serde::Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A product version as `check_health` reports it: `24.3.2 (build-8f3c2a)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductVersion {
    /// The dotted version, `24.3.2`.
    pub version: Version,
    /// The build tag without the `build-` prefix, `8f3c2a`, when the appliance gave one.
    pub build: Option<String>,
}

impl FromStr for ProductVersion {
    type Err = ParseVersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseVersionError {
            input: s.to_owned(),
        };
        let s = s.trim();
        let (version, rest) = match s.split_once(char::is_whitespace) {
            Some((v, rest)) => (v, rest.trim()),
            None => (s, ""),
        };
        let version = version.parse().map_err(|_| err())?;
        let build = if rest.is_empty() {
            None
        } else {
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .map(str::trim)
                .ok_or_else(err)?;
            let tag = inner.strip_prefix("build-").unwrap_or(inner);
            (!tag.is_empty()).then(|| tag.to_owned())
        };
        Ok(Self { version, build })
    }
}

impl fmt::Display for ProductVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.build {
            Some(b) => write!(f, "{} (build-{b})", self.version),
            None => write!(f, "{}", self.version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn orders_numerically_not_lexically() {
        assert!(v("24.10.0") > v("24.9.1"));
        assert!(v("24.3.2") > v("24.3.1"));
        assert!(v("19.1.8") < v("24.1.0"));
        assert!(v("24.3.2.1") > v("24.3.2"));
    }

    #[test]
    fn trailing_zeros_are_insignificant() {
        assert_eq!(v("24.3"), v("24.3.0"));
        assert_eq!(v("24.3").cmp(&v("24.3.0.0")), Ordering::Equal);
        // Display keeps what the appliance wrote.
        assert_eq!(v("24.3").to_string(), "24.3");
    }

    #[test]
    fn rejects_non_versions() {
        for bad in [
            "", "24..1", "24.x", "+24.1", "24.1 ", "v24.1", "Base 5.2", "24.-1",
        ] {
            if bad == "24.1 " {
                // Surrounding whitespace is tolerated: XML text often carries it.
                assert!(bad.parse::<Version>().is_ok());
                continue;
            }
            assert!(bad.parse::<Version>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn parses_product_version_with_build() {
        let pv: ProductVersion = "24.3.2 (build-8f3c2a)"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pv.version, v("24.3.2"));
        assert_eq!(pv.build.as_deref(), Some("8f3c2a"));
        assert_eq!(pv.to_string(), "24.3.2 (build-8f3c2a)");
    }

    #[test]
    fn parses_product_version_without_build() {
        let pv: ProductVersion = "19.1.8".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pv.version, v("19.1.8"));
        assert_eq!(pv.build, None);
        assert!("24.3.2 build".parse::<ProductVersion>().is_err());
        assert!("(build-1)".parse::<ProductVersion>().is_err());
    }

    #[test]
    fn serde_round_trip() {
        let json = serde_json::to_string(&v("24.3.2")).unwrap_or_default();
        assert_eq!(json, "\"24.3.2\"");
        let back: Version = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, v("24.3.2"));
        assert!(serde_json::from_str::<Version>("\"nope\"").is_err());
    }
}

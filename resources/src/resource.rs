//! A resource: metadata plus a spec.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::SystemTime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub namespace: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub id: String,
    /// Bumped on every change; `update` must carry the version it read.
    pub version: u64,
    pub owner: String,
    #[serde(with = "rfc3339")]
    pub created: SystemTime,
    #[serde(with = "rfc3339")]
    pub updated: SystemTime,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Metadata {
    pub fn new(namespace: &str, type_: &str, id: &str, owner: &str) -> Self {
        let now = SystemTime::now();
        Metadata {
            namespace: namespace.to_string(),
            type_: type_.to_string(),
            id: id.to_string(),
            version: 0,
            owner: owner.to_string(),
            created: now,
            updated: now,
            labels: BTreeMap::new(),
        }
    }
}

/// A resource as stored: metadata plus the spec as a JSON value. Typed access
/// goes through [`Typed`] and [`ResourceSpec`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub metadata: Metadata,
    pub spec: serde_json::Value,
}

/// A typed spec: knows its namespace and type name.
pub trait ResourceSpec:
    Serialize + DeserializeOwned + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static
{
    const NAMESPACE: &'static str;
    const TYPE: &'static str;
}

/// A resource with its spec decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed<T> {
    pub metadata: Metadata,
    pub spec: T,
}

impl<T: ResourceSpec> Typed<T> {
    pub fn decode(r: &Resource) -> Result<Self, serde_json::Error> {
        Ok(Typed {
            metadata: r.metadata.clone(),
            spec: serde_json::from_value(r.spec.clone())?,
        })
    }
}

/// RFC 3339 (UTC, seconds and milliseconds) for `SystemTime`, without a date crate.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    pub fn format(t: SystemTime) -> String {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = d.as_secs() as i64;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, day) = civil_from_days(days);
        format!(
            "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
            rem / 3600,
            (rem % 3600) / 60,
            rem % 60,
            d.subsec_millis()
        )
    }

    pub fn parse(s: &str) -> Option<SystemTime> {
        let s = s.strip_suffix('Z')?;
        let (date, time) = s.split_once('T')?;
        let mut dp = date.split('-').map(|p| p.parse::<i64>().ok());
        let (y, m, d) = (dp.next()??, dp.next()??, dp.next()??);
        let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
        let mut tp = hms.split(':').map(|p| p.parse::<i64>().ok());
        let (hh, mm, ss) = (tp.next()??, tp.next()??, tp.next()??);
        let millis: u64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
        let secs = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
        let secs = u64::try_from(secs).ok()?;
        Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
    }

    // Howard Hinnant's civil calendar algorithms (public domain).
    fn civil_from_days(z: i64) -> (i64, i64, i64) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (yoe + era * 400 + i64::from(m <= 2), m, d)
    }

    fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = String::deserialize(d)?;
        parse(&s).ok_or_else(|| serde::de::Error::custom(format!("invalid timestamp {s:?}")))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips() {
            let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
            let s = format(t);
            assert_eq!(s, "2026-11-18T11:06:40.123Z");
            assert_eq!(parse(&s), Some(t));
            assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
            assert_eq!(parse("garbage"), None);
        }
    }
}

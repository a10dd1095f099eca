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

/// RFC 3339 for `SystemTime`: written in UTC with milliseconds
/// (`2026-11-18T11:06:40.123Z`), read with any offset and precision; the
/// calendar is the `time` crate's.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::SystemTime;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub fn format(t: SystemTime) -> String {
        let t = OffsetDateTime::from(t);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }

    pub fn parse(s: &str) -> Option<SystemTime> {
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(SystemTime::from)
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
        use std::time::{Duration, UNIX_EPOCH};

        #[test]
        fn round_trips() {
            let t = UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
            let s = format(t);
            assert_eq!(s, "2026-11-18T11:06:40.123Z");
            assert_eq!(parse(&s), Some(t));
            assert_eq!(format(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
            assert_eq!(parse("2026-11-18T12:06:40.123+01:00"), Some(t));
            assert_eq!(
                parse("2026-11-18T11:06:40Z"),
                Some(t - Duration::from_millis(123))
            );
            assert_eq!(parse("garbage"), None);
        }
    }
}

/// A moment, kept as `SystemTime` and written as RFC 3339 ([`rfc3339`]) in
/// JSON and on screen; the default is the epoch (never shown: fields that
/// may have no moment are `Option<Timestamp>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub SystemTime);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(SystemTime::now())
    }
}

impl Default for Timestamp {
    fn default() -> Self {
        Timestamp(SystemTime::UNIX_EPOCH)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Timestamp(t)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&rfc3339::format(self.0))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        rfc3339::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        rfc3339::deserialize(d).map(Timestamp)
    }
}

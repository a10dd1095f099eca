//! MAC addresses as text: how links, leases and election values write them.

pub type Mac = [u8; 6];

/// `aa:bb:cc:dd:ee:ff` (any length of bytes).
pub fn format_mac(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `aa:bb:cc:dd:ee:ff` (a [`HardwareAddr`] of six bytes).
pub fn parse_mac(s: &str) -> Option<Mac> {
    s.parse::<HardwareAddr>().ok()?.mac()
}

/// A link's hardware address, of any length (6 bytes for Ethernet, none
/// for some tunnels), kept as bytes and written as `aa:bb:...` (empty when
/// the link has none).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HardwareAddr(pub Vec<u8>);

impl HardwareAddr {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The address as an Ethernet MAC, when it is one (six bytes).
    pub fn mac(&self) -> Option<Mac> {
        self.0.as_slice().try_into().ok()
    }
}

impl From<Mac> for HardwareAddr {
    fn from(m: Mac) -> Self {
        HardwareAddr(m.to_vec())
    }
}

impl std::fmt::Display for HardwareAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_mac(&self.0))
    }
}

/// Why a text is not a hardware address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a hardware address (hex bytes separated by ':', at most 32)")]
pub struct BadHardwareAddr(pub String);

impl std::str::FromStr for HardwareAddr {
    type Err = BadHardwareAddr;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Ok(HardwareAddr::default());
        }
        let bad = || BadHardwareAddr(s.chars().take(100).collect());
        let mut bytes = Vec::new();
        for p in s.split(':') {
            // At most 32 bytes: a longer text stops here, unread.
            if bytes.len() == 32 || p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            bytes.push(u8::from_str_radix(p, 16).map_err(|_| bad())?);
        }
        Ok(HardwareAddr(bytes))
    }
}

impl serde::Serialize for HardwareAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for HardwareAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_addr_round_trips_and_refuses_junk() {
        let a: HardwareAddr = "52:54:00:0a:0B:ff".parse().unwrap();
        assert_eq!(a.mac(), Some([0x52, 0x54, 0, 0x0a, 0x0b, 0xff]));
        assert_eq!(a.to_string(), "52:54:00:0a:0b:ff");
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, "\"52:54:00:0a:0b:ff\"");
        assert_eq!(serde_json::from_str::<HardwareAddr>(&json).unwrap(), a);
        let tunnel: HardwareAddr = "0a:00:00:01".parse().unwrap();
        assert_eq!(tunnel.mac(), None);
        assert!("".parse::<HardwareAddr>().unwrap().is_empty());
        for bad in ["5:54:00:00:00:00", "zz:00", "52-54-00-00-00-00", ":"] {
            assert!(bad.parse::<HardwareAddr>().is_err(), "{bad}");
        }
        let long = vec!["00"; 33].join(":");
        assert!(long.parse::<HardwareAddr>().is_err());
    }
}

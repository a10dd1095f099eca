use crate::config::VipOptions;
use crate::resource::ResourceSpec;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A VIP this node competes for (`network/VIPSpec/<link>/<ip>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VipSpec {
    pub ip: IpAddr,
    pub link: String,
    pub options: VipOptions,
}

impl VipSpec {
    pub fn id(link: &str, ip: &IpAddr) -> String {
        format!("{link}/{ip}")
    }
}

impl ResourceSpec for VipSpec {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "VIPSpec";
}

/// Who holds a VIP, as this node sees it (`network/VIPStatus/<ip>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct VipStatus {
    pub ip: String,
    pub link: String,
    /// Node name of the holder; empty when nobody holds it.
    pub holder: String,
    /// This node holds it.
    pub holding: bool,
    /// This node is competing for it.
    pub campaigning: bool,
    /// Why not, when not campaigning.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// When this node last became holder or last saw the holder change (RFC 3339).
    #[serde(default)]
    pub since: String,
    /// Holder changes this node has seen.
    pub transitions: u64,
    /// When this node last announced the VIP (RFC 3339).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_announce: String,
    /// Announcement frames sent since this node added the VIP.
    #[serde(default)]
    pub announced_frames: u64,
}

impl ResourceSpec for VipStatus {
    const NAMESPACE: &'static str = super::NS_NETWORK;
    const TYPE: &'static str = "VIPStatus";
}

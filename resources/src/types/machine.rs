use crate::config::MachineConfig;
use crate::resource::ResourceSpec;
use serde::{Deserialize, Serialize};

/// The applied machine config (`config/MachineConfig/v1alpha1`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachineConfigSpec {
    /// The parsed config.
    pub config: MachineConfig,
    /// The document(s) as applied.
    pub raw: String,
}

impl MachineConfigSpec {
    pub const ID: &'static str = "v1alpha1";
}

impl ResourceSpec for MachineConfigSpec {
    const NAMESPACE: &'static str = super::NS_CONFIG;
    const TYPE: &'static str = "MachineConfig";
}

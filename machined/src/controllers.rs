//! Which controllers run, in which order. Shutdown goes in reverse: the VIP
//! controller stops first (releasing the VIP while etcd and the address
//! controller still run), etcd next, the network last.

use anyhow::Result;
use machined_controllers::dhcp::{DhcpOperatorController, RawSockets};
use machined_controllers::etcd::{EtcdServiceController, EtcdSpecController};
use machined_controllers::health::VipHealthController;
use machined_controllers::kernel::vip_addr::VipNetlink;
use machined_controllers::kernel::{NetDriver, Rtnl};
use machined_controllers::network::*;
use machined_controllers::secrets::{ApiCertsController, EtcdCertsController};
use machined_controllers::vip::{EtcdElector, L2Wires, VipConfigController, VipOperatorController};
use machined_controllers::Engine;
use machined_resources::State;
use std::path::Path;
use std::sync::Arc;

pub fn engine(
    state: State,
    state_dir: &Path,
    etcd_binary: &Path,
    set_hostname: bool,
    cmdline_ip: Option<CmdlineIp>,
) -> Result<Engine> {
    let driver: Arc<dyn NetDriver> = Arc::new(Rtnl::new()?);
    let mut e = Engine::new(state);
    e.register(LinkStatusController {
        driver: driver.clone(),
    })?;
    e.register(LinkAliasConfigController::new(driver.clone()))?;
    e.register(InterfaceConfigController)?;
    if cmdline_ip.is_some() {
        e.register(CmdlineConfigController { ip: cmdline_ip })?;
    }
    e.register(HostnameConfigController)?;
    e.register(HostnameSpecController::new(set_hostname))?;
    e.register(VipConfigController)?;
    e.register(LinkSpecController {
        driver: driver.clone(),
    })?;
    e.register(AddressSpecController::new(driver.clone()))?;
    e.register(AddressStatusController {
        driver: driver.clone(),
    })?;
    e.register(RouteSpecController {
        driver: driver.clone(),
    })?;
    e.register(RouteStatusController {
        driver: driver.clone(),
    })?;
    // After the network controllers it feeds, so it stops before them: its
    // RELEASE and the address removal happen while they still run.
    e.register(DhcpOperatorController::new(
        state_dir.to_path_buf(),
        Arc::new(RawSockets),
        Arc::new(L2Wires),
        driver.clone(),
    ))?;
    e.register(ApiCertsController)?;
    e.register(EtcdSpecController)?;
    e.register(EtcdCertsController)?;
    e.register(EtcdServiceController::new(
        state_dir.to_path_buf(),
        etcd_binary.to_path_buf(),
    ))?;
    // Before the VIP controller, which reads its checks' verdicts.
    e.register(VipHealthController::default())?;
    e.register(VipOperatorController::new(
        Arc::new(VipNetlink::open()?),
        Arc::new(L2Wires),
        Arc::new(EtcdElector),
    ))?;
    e.register(machined_controllers::sink::sink_config::SinkController::default())?;
    Ok(e)
}

//! Which controllers run, in which order (shutdown is the reverse).

use anyhow::Result;
use machined_controllers::net::{NetDriver, Rtnl};
use machined_controllers::network::*;
use machined_controllers::Engine;
use machined_resources::State;
use std::sync::Arc;

pub fn engine(state: State) -> Result<Engine> {
    let driver: Arc<dyn NetDriver> = Arc::new(Rtnl::new()?);
    let mut e = Engine::new(state);
    e.register(LinkStatusController {
        driver: driver.clone(),
    })?;
    e.register(AddressConfigController)?;
    e.register(LinkSpecController {
        driver: driver.clone(),
    })?;
    e.register(AddressSpecController {
        driver: driver.clone(),
    })?;
    e.register(AddressStatusController { driver })?;
    Ok(e)
}

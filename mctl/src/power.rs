//! `mctl reboot` and `mctl shutdown`: each node stops cleanly (its VIP
//! released first, then etcd), then reboots or powers off.

use crate::output;
use crate::session::Session;
use anyhow::Result;
use machined_proto as pb;

pub async fn run(s: &Session, reboot: bool, force: bool) -> Result<bool> {
    let call = |node: String| async move {
        let mut c = s.machine(&node).await?;
        if reboot {
            c.reboot(pb::RebootRequest { force })
                .await
                .map_err(output::status)?;
        } else {
            c.shutdown(pb::ShutdownRequest { force })
                .await
                .map_err(output::status)?;
        }
        Ok(())
    };
    let show = |node: &str, ()| {
        let what = if reboot { "rebooting" } else { "shutting down" };
        println!("{node}: {what} (the VIP is released first, then etcd stops)");
    };
    Ok(s.each(call, show).await)
}

//! Machine config + etcd spec → `EtcdCerts` (server/peer and client
//! certificates from `cluster.etcd.ca`).

use super::node_sans;
use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_pki::Leaf;
use machined_resources::types::{AddressStatus, EtcdCerts, EtcdSpec, MachineConfigSpec};

pub struct EtcdCertsController;

#[async_trait]
impl Controller for EtcdCertsController {
    fn name(&self) -> &'static str {
        "secrets.EtcdCertsController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![
            Input::of::<MachineConfigSpec>(),
            Input::of::<AddressStatus>(),
            Input::of::<EtcdSpec>(),
        ]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<EtcdCerts>()]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let mc = ctx.get::<MachineConfigSpec>(MachineConfigSpec::ID)?;
        let spec = ctx.get::<EtcdSpec>(EtcdSpec::ID)?;
        let (Some(mc), Some(_)) = (mc, spec) else {
            return ctx.destroy::<EtcdCerts>(EtcdCerts::ID);
        };
        let Some(issuer) = mc
            .spec
            .config
            .cluster
            .etcd
            .ca
            .as_ref()
            .and_then(|c| c.issuer())
        else {
            return ctx.destroy::<EtcdCerts>(EtcdCerts::ID);
        };
        let addrs: Vec<AddressStatus> = ctx
            .list::<AddressStatus>()?
            .into_iter()
            .map(|a| a.spec)
            .collect();
        let sans = node_sans(&mc.spec, &addrs, &[]);
        if let Some(cur) = ctx.get::<EtcdCerts>(EtcdCerts::ID)? {
            if cur.spec.sans == sans && cur.spec.ca_pem == issuer.cert_pem {
                return Ok(());
            }
        }

        let name = crate::etcd::node_name(&mc.spec.config);
        let server = issuer.issue(&Leaf {
            common_name: name.clone(),
            sans: sans.clone(),
            server: true,
            client: true,
            days: 365,
            ..Default::default()
        })?;
        let client = issuer.issue(&Leaf {
            common_name: format!("machined@{name}"),
            client: true,
            days: 365,
            ..Default::default()
        })?;
        tracing::info!(sans = ?sans, "issued etcd certificates");
        ctx.put(
            EtcdCerts::ID,
            &EtcdCerts {
                ca_pem: issuer.cert_pem,
                server_cert_pem: server.cert_pem,
                server_key_pem: server.key_pem,
                client_cert_pem: client.cert_pem,
                client_key_pem: client.key_pem,
                sans,
            },
        )
    }
}

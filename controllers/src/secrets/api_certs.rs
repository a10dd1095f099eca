//! Machine config + addresses → `ApiCerts` (the API's server certificate).

use super::node_sans;
use crate::{Controller, ControllerError, Ctx, Input, Output};
use async_trait::async_trait;
use machined_pki::Leaf;
use machined_resources::types::{AddressStatus, ApiCerts, MachineConfigSpec};

pub struct ApiCertsController;

#[async_trait]
impl Controller for ApiCertsController {
    fn name(&self) -> &'static str {
        "secrets.ApiCertsController"
    }

    fn inputs(&self) -> Vec<Input> {
        vec![
            Input::of::<MachineConfigSpec>(),
            Input::of::<AddressStatus>(),
        ]
    }

    fn outputs(&self) -> Vec<Output> {
        vec![Output::exclusive::<ApiCerts>()]
    }

    async fn reconcile(&mut self, ctx: &mut Ctx) -> Result<(), ControllerError> {
        let Some(mc) = ctx.get::<MachineConfigSpec>(MachineConfigSpec::ID)? else {
            return ctx.destroy::<ApiCerts>(ApiCerts::ID);
        };
        let Some(issuer) = mc.spec.config.machine_ca.as_ref().and_then(|c| c.issuer()) else {
            tracing::error!(
                "no machine CA key in the config (machine.ca.key): the API cannot be secured"
            );
            return ctx.destroy::<ApiCerts>(ApiCerts::ID);
        };
        let addrs: Vec<AddressStatus> = ctx
            .list::<AddressStatus>()?
            .into_iter()
            .map(|a| a.spec)
            .collect();
        let sans = node_sans(&mc.spec, &addrs, &mc.spec.config.cert_sans);
        if let Some(cur) = ctx.get::<ApiCerts>(ApiCerts::ID)? {
            if cur.spec.sans == sans
                && cur.spec.ca_pem == issuer.cert_pem
                && !cur.spec.client_cert_pem.is_empty()
            {
                return Ok(());
            }
        }

        let leaf = issuer.issue(&Leaf {
            common_name: crate::etcd::node_name(&mc.spec.config),
            sans: sans.clone(),
            server: true,
            days: 365,
            ..Default::default()
        })?;
        let client = issuer.issue(&Leaf {
            common_name: crate::etcd::node_name(&mc.spec.config),
            orgs: vec![machined_pki::ROLE_IMPERSONATOR.to_string()],
            client: true,
            days: 365,
            ..Default::default()
        })?;
        tracing::info!(sans = ?sans, "issued the API server certificate and the node's client certificate");
        ctx.put(
            ApiCerts::ID,
            &ApiCerts {
                ca_pem: issuer.cert_pem,
                cert_pem: leaf.cert_pem,
                key_pem: leaf.key_pem,
                sans,
                client_cert_pem: client.cert_pem,
                client_key_pem: client.key_pem,
            },
        )
    }
}

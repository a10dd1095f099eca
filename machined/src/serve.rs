//! The machine API: TLS that follows the node's certificates, both
//! services with message size limits, and a bounded drain.

use machined_api::{tls, MachineApi, NodeStore, ObserveApi, ResourceApi, VipApi};
use machined_proto::machine_service_server::MachineServiceServer;
use machined_proto::observe_service_server::ObserveServiceServer;
use machined_proto::resource_service_server::ResourceServiceServer;
use machined_proto::vip_service_server::VipServiceServer;
use machined_resources::types::ApiCerts;
use machined_resources::State;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The running API server.
pub struct Serving {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
}

/// Serves both services on `listener` until [`Serving::drain`].
pub fn serve(
    listener: TcpListener,
    state: &State,
    store: NodeStore,
    node: String,
    power: machined_api::PowerSwitch,
) -> anyhow::Result<Serving> {
    let (stop, stop_rx) = oneshot::channel::<()>();
    let current = tls::Current::new(tls::maintenance()?);
    tokio::spawn(track_tls(state.clone(), current.clone()));
    let etcd_api = std::sync::Arc::new(machined_api::etcd_api::EtcdApi::new(
        state.clone(),
        store.clone(),
        node.clone(),
    ));
    let server = tonic::transport::Server::builder()
        // Calls naming another node go there (the apid model).
        .layer(machined_api::proxy::ProxyLayer::new(
            state.clone(),
            node.clone(),
        ))
        // Requests are small (a config is at most 1 MiB): refuse larger
        // messages before reading them.
        .add_service(
            MachineServiceServer::new(
                MachineApi::new(state.clone(), store.clone(), node.clone())
                    .with_power(power)
                    .with_guard(etcd_api.clone()),
            )
            .max_decoding_message_size(2 << 20),
        )
        .add_service(
            ResourceServiceServer::new(ResourceApi::new(state.clone(), node.clone()))
                .max_decoding_message_size(64 << 10),
        )
        .add_service(
            ObserveServiceServer::new(ObserveApi::new(state.clone(), node.clone()))
                .max_decoding_message_size(4 << 10),
        )
        .add_service(
            VipServiceServer::new(
                VipApi::new(state.clone(), node.clone()).with_quorum(etcd_api.clone()),
            )
            .max_decoding_message_size(4 << 10),
        )
        .add_service(
            // Snapshots for recovery come up in 1 MiB messages.
            machined_proto::etcd_service_server::EtcdServiceServer::from_arc(etcd_api.clone())
                .max_decoding_message_size(2 << 20),
        )
        .add_service(
            machined_proto::health_service_server::HealthServiceServer::new(
                machined_api::health_api::HealthApi::new(
                    state.clone(),
                    node.clone(),
                    etcd_api.clone(),
                ),
            )
            .max_decoding_message_size(16 << 10),
        )
        .serve_with_incoming_shutdown(tls::incoming(listener, current), async {
            let _ = stop_rx.await;
        });
    Ok(Serving {
        stop,
        task: tokio::spawn(server),
    })
}

impl Serving {
    /// Stops accepting calls and waits (at most 3 s: watches may hold the
    /// server open) for the calls in flight.
    pub async fn drain(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(3), self.task).await;
    }
}

/// Keeps the API's TLS in line with `ApiCerts`: secured (mTLS) once the
/// node has its certificate, maintenance (self-signed, no client auth)
/// while it has none.
async fn track_tls(state: State, current: tls::Current) {
    let mut w = state.watch_typed::<ApiCerts>();
    while w.next().await.is_some() {
        let certs = state.get_typed::<ApiCerts>(ApiCerts::ID).ok().flatten();
        let cfg = match &certs {
            Some(c) => tls::secured(&c.spec),
            None => tls::maintenance(),
        };
        match cfg {
            Ok(cfg) => {
                current.set(cfg);
                tracing::info!(
                    mode = if certs.is_some() {
                        "mtls"
                    } else {
                        "maintenance"
                    },
                    "API TLS updated"
                );
            }
            Err(e) => {
                tracing::error!(error = %machined_resources::error::chain(&e), "cannot build the API TLS config")
            }
        }
    }
}

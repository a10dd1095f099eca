//! Metrics of the holder's answering from user space: proofs asked of etcd
//! (by result), requests answered and left unanswered for lack of proof,
//! and rival claims heard; and runner restarts.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Vip {
    vip: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VipResult {
    vip: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Runner {
    runner: String,
}

#[derive(Default)]
pub(crate) struct Answering {
    restarts: Family<Runner, Counter>,
    proofs: Family<VipResult, Counter>,
    answered: Family<Vip, Counter>,
    unanswered: Family<Vip, Counter>,
    rivals: Family<Vip, Counter>,
}

fn vip(ip: &str) -> Vip {
    Vip {
        vip: ip.to_string(),
    }
}

impl Answering {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "runner_restarts",
            "Runners (a VIP's election, a link's DHCP client, a health check) started again after they stopped unexpectedly",
            self.restarts.clone(),
        );
        r.register(
            "vip_proofs",
            "Confirmations of this node's election key asked of etcd before speaking for the VIP, by result (held, gone, no-answer)",
            self.proofs.clone(),
        );
        r.register(
            "vip_requests_answered",
            "ARP requests and neighbour solicitations for the VIP answered (with proof)",
            self.answered.clone(),
        );
        r.register(
            "vip_requests_unanswered",
            "ARP requests and neighbour solicitations for the VIP left unanswered: no proof",
            self.unanswered.clone(),
        );
        r.register(
            "vip_rivals",
            "Claims of the VIP by another station heard while holding it",
            self.rivals.clone(),
        );
    }

    pub fn proof(&self, ip: &str, result: &str) {
        self.proofs
            .get_or_create(&VipResult {
                vip: ip.to_string(),
                result: result.to_string(),
            })
            .inc();
    }

    pub fn answered(&self, ip: &str, n: u64) {
        if n > 0 {
            self.answered.get_or_create(&vip(ip)).inc_by(n);
        }
    }

    pub fn unanswered(&self, ip: &str, n: u64) {
        if n > 0 {
            self.unanswered.get_or_create(&vip(ip)).inc_by(n);
        }
    }

    pub fn restarted(&self, runner: &str) {
        self.restarts
            .get_or_create(&Runner {
                runner: runner.to_string(),
            })
            .inc();
    }

    pub fn rival(&self, ip: &str) {
        self.rivals.get_or_create(&vip(ip)).inc();
    }
}

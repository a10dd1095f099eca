//! Metrics of the log and event destinations: lines sent, and lines lost
//! (the ring moved past them while the receiver was slow or gone).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Destination {
    destination: String,
}

#[derive(Default)]
pub(crate) struct Sinks {
    sent: Family<Destination, Counter>,
    dropped: Family<Destination, Counter>,
}

fn dest(d: &str) -> Destination {
    Destination {
        destination: d.to_string(),
    }
}

impl Sinks {
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "sink_lines_sent",
            "Log lines and events sent to a destination (machine.logging, EventSinkConfig)",
            self.sent.clone(),
        );
        r.register(
            "sink_lines_dropped",
            "Log lines and events a destination never got: the receiver was slow or gone and they left the ring first",
            self.dropped.clone(),
        );
    }

    pub fn sent(&self, d: &str, n: u64) {
        self.sent.get_or_create(&dest(d)).inc_by(n);
    }

    pub fn dropped(&self, d: &str, n: u64) {
        self.dropped.get_or_create(&dest(d)).inc_by(n);
    }
}

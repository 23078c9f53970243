use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(
        "UDP 5353 is held by an mDNS responder that does not share it ({0}); with Avahi, set \
         disallow-other-stacks=no in /etc/avahi/avahi-daemon.conf"
    )]
    PortTaken(String),
    #[error("starting the mDNS responder: {0}")]
    Start(String),
    #[error("advertising {instance} over mDNS: {cause}")]
    Advertise { instance: String, cause: String },
    #[error("browsing mDNS for _vtremote._tcp: {0}")]
    Browse(String),
    #[error(
        "no helper answered mDNS browse for _vtremote._tcp within {:.1} s on interfaces {interfaces} \
         (is vtremoted running without --no-mdns, and UDP 5353 open between the machines?)",
        window.as_secs_f64()
    )]
    NothingFound {
        window: Duration,
        /// `name (address)` of every interface that was listened on, or "none".
        interfaces: String,
    },
}

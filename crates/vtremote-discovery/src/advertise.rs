//! The helper's side: one `_vtremote._tcp` instance for as long as it serves.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo, UnregisterStatus};
use tracing::{debug, info, warn};

use crate::error::DiscoveryError;
use crate::host::{instance_name, target_host};
use crate::txt::Txt;
use crate::SERVICE_TYPE;

/// How long withdrawing waits for the goodbye packets to go out: shutdown must not hang on
/// a responder that stopped answering.
const WITHDRAW_WAIT: Duration = Duration::from_secs(1);

/// What to advertise.
#[derive(Debug, Clone)]
pub struct Advert {
    /// The address the helper listens on: a specific address is advertised alone and only
    /// on its interface; an unspecified one on every interface of its family.
    pub listen: SocketAddr,
    pub txt: Txt,
}

/// A running advertisement; withdrawn (goodbye packets, TTL 0) by [`Advertisement::withdraw`]
/// or on drop.
pub struct Advertisement {
    daemon: ServiceDaemon,
    fullname: String,
    instance: String,
    withdrawn: bool,
}

/// Starts answering for `advert` on UDP 5353, shared with any system responder.
pub fn advertise(advert: &Advert) -> Result<Advertisement, DiscoveryError> {
    let instance = instance_name(advert.listen);
    let failed = |cause: String| DiscoveryError::Advertise {
        instance: instance.clone(),
        cause,
    };
    crate::port::check_shareable()?;
    let daemon = crate::responder::Responder::start()?;
    let ip = advert.listen.ip();
    let pairs = advert.txt.to_pairs();
    let addresses: Vec<IpAddr> = if ip.is_unspecified() {
        Vec::new()
    } else {
        vec![ip]
    };
    let mut service = ServiceInfo::new(
        SERVICE_TYPE,
        &instance,
        &target_host(advert.listen),
        &addresses[..],
        advert.listen.port(),
        &pairs[..],
    )
    .map_err(|e| failed(e.to_string()))?;
    let interfaces = interfaces_for(ip);
    if ip.is_unspecified() {
        // The addresses of whichever interface a query arrives on, kept current as they change.
        service = service.enable_addr_auto();
    }
    // The responder only listens where the helper does: a helper on 127.0.0.1 must not be
    // announced to the LAN at all.
    daemon
        .disable_interface(IfKind::All)
        .and_then(|()| daemon.enable_interface(interfaces.clone()))
        .map_err(|e| failed(e.to_string()))?;
    service.set_interfaces(interfaces);
    let fullname = service.get_fullname().to_string();
    daemon
        .register(service)
        .map_err(|e| failed(e.to_string()))?;
    info!(
        "mDNS: advertising \"{instance}\" ({SERVICE_TYPE} port {}, {}) with TXT {}",
        advert.listen.port(),
        if ip.is_unspecified() {
            "every interface".to_string()
        } else {
            format!("address {ip} only")
        },
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(Advertisement {
        daemon: daemon.keep(),
        fullname,
        instance,
        withdrawn: false,
    })
}

/// A wildcard IPv4 listener serves no IPv6 client, so it is announced on IPv4 only; an IPv6
/// wildcard is usually dual-stack.
fn interfaces_for(ip: IpAddr) -> Vec<IfKind> {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => vec![IfKind::IPv4],
        IpAddr::V6(v6) if v6.is_unspecified() => vec![IfKind::All],
        specific => vec![IfKind::Addr(specific)],
    }
}

impl Advertisement {
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Says goodbye, so browsers drop this helper now rather than when their cache expires.
    pub fn withdraw(mut self) {
        self.say_goodbye();
    }

    fn say_goodbye(&mut self) {
        if std::mem::replace(&mut self.withdrawn, true) {
            return;
        }
        match self
            .daemon
            .unregister(&self.fullname)
            .map(|r| r.recv_timeout(WITHDRAW_WAIT))
        {
            Ok(Ok(UnregisterStatus::OK)) => {
                info!("mDNS: withdrew \"{}\"", self.instance)
            }
            Ok(other) => debug!("mDNS: withdrawing \"{}\": {other:?}", self.instance),
            Err(e) => warn!("mDNS: withdrawing \"{}\": {e}", self.instance),
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = done.recv_timeout(WITHDRAW_WAIT);
        }
    }
}

impl Drop for Advertisement {
    fn drop(&mut self) {
        self.say_goodbye();
    }
}

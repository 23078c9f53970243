//! Whether UDP 5353 can be shared. mdns-sd opens its sockets on its own thread and reports
//! a failed bind only to monitors that may not exist yet, so a responder that keeps the port
//! to itself (Avahi with `disallow-other-stacks=yes`) would leave us silently deaf and mute.
//! Binding once the way mdns-sd does turns that into an error that names the cause.

use std::net::{Ipv4Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::DiscoveryError;

const MDNS_PORT: u16 = 5353;

pub(crate) fn check_shareable() -> Result<(), DiscoveryError> {
    let taken = |e: std::io::Error| DiscoveryError::PortTaken(e.to_string());
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).map_err(taken)?;
    socket.set_reuse_address(true).map_err(taken)?;
    #[cfg(unix)]
    socket.set_reuse_port(true).map_err(taken)?;
    socket
        .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, MDNS_PORT)).into())
        .map_err(taken)
}

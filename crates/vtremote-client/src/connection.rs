//! Connecting and the HELLO/CONFIGURE handshake, up to a configured socket; the threads
//! that carry the session from there are in `pipeline.rs`.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};

use vtremote_proto::{
    Codec, Configure, ConfigureAck, Header, Hello, HelloStatus, Limits, Message, WireCompression,
    HEADER_LEN,
};

use crate::config::{ClientConfig, ServerInfo, DEFAULT_PORT};
use crate::error::ClientError;

/// Splits `host:port`, `[v6]:port`, bare `host` or bare IPv6 into host and port.
pub(crate) fn split_host_port(spec: &str) -> Result<(String, u16), ClientError> {
    let bad = || ClientError::InvalidArgument(format!("bad host {spec:?}: expected HOST:PORT"));
    if spec.is_empty() {
        return Err(ClientError::InvalidArgument(
            "no host given: expected HOST:PORT of a vtremoted helper".into(),
        ));
    }
    if let Some(rest) = spec.strip_prefix('[') {
        let (h, tail) = rest.split_once(']').ok_or_else(bad)?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if tail.is_empty() => DEFAULT_PORT,
            None => return Err(bad()),
        };
        return Ok((h.to_string(), port));
    }
    match spec.matches(':').count() {
        0 => Ok((spec.to_string(), DEFAULT_PORT)),
        1 => {
            let (h, p) = spec.split_once(':').expect("one colon");
            if h.is_empty() {
                return Err(bad());
            }
            Ok((h.to_string(), p.parse().map_err(|_| bad())?))
        }
        // A bare IPv6 literal has several colons and no port.
        _ => Ok((spec.to_string(), DEFAULT_PORT)),
    }
}

pub(crate) fn connect(config: &ClientConfig) -> Result<(TcpStream, SocketAddr), ClientError> {
    let host = &config.host;
    let (name, port) = split_host_port(host)?;
    let addrs: Vec<SocketAddr> = (name.as_str(), port)
        .to_socket_addrs()
        .map_err(|source| ClientError::Resolve {
            host: host.clone(),
            cause: source,
        })?
        .collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, config.timeout) {
            Ok(s) => {
                s.set_nodelay(true)
                    .and_then(|_| s.set_read_timeout(Some(config.timeout)))
                    .and_then(|_| s.set_write_timeout(Some(config.timeout)))
                    .map_err(|e| ClientError::io(host, "configuring the socket", e))?;
                return Ok((crate::tls::secure(s, config)?, addr));
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| std::io::Error::other("no address"));
    Err(match e.kind() {
        std::io::ErrorKind::ConnectionRefused => ClientError::Refused { host: host.clone() },
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ClientError::Timeout {
            host: host.clone(),
            ms: config.timeout.as_millis(),
            what: "connecting",
        },
        _ => ClientError::Connect {
            host: host.clone(),
            cause: e,
        },
    })
}

/// Reads one whole message, checking the header against `limits` before allocating.
pub(crate) fn read_message(
    stream: &mut TcpStream,
    limits: &Limits,
    host: &str,
    what: &'static str,
    counter: Option<&AtomicU64>,
) -> Result<Message, ClientError> {
    let mut h = [0u8; HEADER_LEN];
    stream
        .read_exact(&mut h)
        .map_err(|e| ClientError::io(host, what, e))?;
    let proto = |what: &str, source| ClientError::Protocol {
        host: host.into(),
        what: what.into(),
        cause: source,
    };
    let header = Header::decode(&h).map_err(|e| proto("reading a message header", e))?;
    limits
        .check(&header)
        .map_err(|e| proto("message size", e))?;
    let mut payload = vec![0u8; header.len as usize];
    stream
        .read_exact(&mut payload)
        .map_err(|e| ClientError::io(host, what, e))?;
    if let Some(c) = counter {
        c.fetch_add(HEADER_LEN as u64 + header.len as u64, Ordering::Relaxed);
    }
    Message::decode(header.ty, payload).map_err(|e| proto(&format!("decoding {}", header.ty), e))
}

fn write_message(
    stream: &mut TcpStream,
    msg: &Message,
    host: &str,
    what: &'static str,
) -> Result<usize, ClientError> {
    let bytes = msg.to_bytes().map_err(|source| ClientError::Protocol {
        host: host.into(),
        what: format!("encoding {}", msg.ty()),
        cause: source,
    })?;
    stream
        .write_all(&bytes)
        .map_err(|e| ClientError::io(host, what, e))?;
    Ok(bytes.len())
}

fn with_timeout_ms(e: ClientError, ms: u128) -> ClientError {
    match e {
        ClientError::Timeout { host, what, .. } => ClientError::Timeout { host, ms, what },
        other => other,
    }
}

/// Sends HELLO and interprets HELLO_ACK.
fn hello(
    stream: &mut TcpStream,
    config: &ClientConfig,
    codec: Codec,
    addr: SocketAddr,
) -> Result<(ServerInfo, u64), ClientError> {
    let host = config.host.as_str();
    let ms = config.timeout.as_millis();
    let sent = write_message(
        stream,
        &Message::Hello(Hello {
            token: config.token.clone(),
            codec: codec.wire_name().into(),
            client_name: config.client_name.clone(),
            client_build: config.client_build.clone(),
        }),
        host,
        "sending HELLO",
    )
    .map_err(|e| with_timeout_ms(e, ms))?;
    let msg = read_message(
        stream,
        &Limits::default(),
        host,
        "waiting for HELLO_ACK (is it a vtremote server?)",
        None,
    )
    .map_err(|e| match e {
        ClientError::Protocol {
            cause: vtremote_proto::ProtoError::BadMagic(_),
            ..
        } => ClientError::Unexpected {
            host: host.into(),
            got: "non-vtremote bytes".into(),
            expected: "HELLO_ACK",
        },
        ClientError::Closed { host, .. } => ClientError::Closed {
            host,
            what: "before HELLO_ACK (not a vtremote server, or it refused the connection)",
        },
        e => with_timeout_ms(e, ms),
    })?;
    let ack = match msg {
        Message::HelloAck(a) => a,
        Message::Error(error) => {
            return Err(ClientError::Server {
                host: host.into(),
                error,
            })
        }
        other => {
            return Err(ClientError::Unexpected {
                host: host.into(),
                got: other.ty().to_string(),
                expected: "HELLO_ACK",
            })
        }
    };
    match ack.status {
        HelloStatus::Accepted => {}
        HelloStatus::AuthFailed => return Err(ClientError::AuthFailed { host: host.into() }),
        HelloStatus::Busy => {
            return Err(ClientError::Busy {
                host: host.into(),
                active: ack.active_sessions,
                max: ack.max_sessions,
            })
        }
        HelloStatus::Other(c) => {
            return Err(ClientError::Server {
                host: host.into(),
                error: vtremote_proto::ErrorMsg::new(
                    vtremote_proto::ErrorCode::Other(c as u32),
                    format!("HELLO_ACK status {c}"),
                ),
            })
        }
    }
    let (features, codecs): (Vec<String>, Vec<String>) =
        ack.codecs.into_iter().partition(|c| c.starts_with('+'));
    let info = ServerInfo {
        address: addr.to_string(),
        name: ack.server_name,
        version: ack.server_version,
        codecs,
        features: features
            .into_iter()
            .map(|f| f.trim_start_matches('+').to_string())
            .collect(),
        max_sessions: ack.max_sessions,
        active_sessions: ack.active_sessions,
    };
    Ok((info, sent as u64))
}

pub(crate) fn probe(config: &ClientConfig, codec: Codec) -> Result<ServerInfo, ClientError> {
    let (mut stream, addr) = connect(config)?;
    let (info, _) = hello(&mut stream, config, codec, addr)?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(info)
}

/// Puts `compression` into CONFIGURE's options, right after `mode`, replacing any entry the
/// caller passed. None is left off, as the original client does, so an old server sees
/// exactly what it expects.
fn set_compression_option(options: &mut Vec<(String, String)>, compression: WireCompression) {
    options.retain(|(k, _)| k != "wire_compression");
    if compression != WireCompression::None {
        let at = options
            .iter()
            .position(|(k, _)| k == "mode")
            .map_or(0, |i| i + 1);
        options.insert(
            at,
            ("wire_compression".into(), compression.code().to_string()),
        );
    }
}

/// Sends CONFIGURE (with the compression actually usable) and checks CONFIGURE_ACK.
/// Returns the ack and the bytes written; bytes read go to `received`.
fn configure_session(
    stream: &mut TcpStream,
    config: &ClientConfig,
    mut configure: Configure,
    compression: WireCompression,
    received: &AtomicU64,
) -> Result<(ConfigureAck, u64), ClientError> {
    let host = config.host.clone();
    let ms = config.timeout.as_millis();
    set_compression_option(&mut configure.options, compression);
    let sent = write_message(
        stream,
        &Message::Configure(configure),
        &host,
        "sending CONFIGURE",
    )
    .map_err(|e| with_timeout_ms(e, ms))?;
    let msg = read_message(
        stream,
        &Limits::default(),
        &host,
        "waiting for CONFIGURE_ACK",
        Some(received),
    )
    .map_err(|e| match e {
        ClientError::Closed { host, .. } => ClientError::Closed {
            host,
            what: "after CONFIGURE (the server refused this configuration; see its log)",
        },
        e => with_timeout_ms(e, ms),
    })?;
    let ack = match msg {
        Message::ConfigureAck(a) if a.status == 0 => a,
        Message::ConfigureAck(a) => {
            return Err(ClientError::Server {
                host,
                error: vtremote_proto::ErrorMsg::new(
                    vtremote_proto::ErrorCode::Other(a.status as u32),
                    format!("CONFIGURE_ACK status {}", a.status),
                ),
            })
        }
        Message::Error(error) => return Err(ClientError::Server { host, error }),
        other => {
            return Err(ClientError::Unexpected {
                host,
                got: other.ty().to_string(),
                expected: "CONFIGURE_ACK",
            })
        }
    };
    Ok((ack, sent as u64))
}

/// Says whom we talk to and how; the compression only when it is not what was asked for.
fn log_connected(config: &ClientConfig, info: &ServerInfo, compression: WireCompression) {
    let server = if info.name.is_empty() {
        "an original vtremoted".to_string()
    } else {
        format!("{} {}", info.name, info.version)
    };
    config.log.debug(format_args!(
        "{}: connected to {} ({server}), wire compression {}",
        config.host,
        info.address,
        compression.name()
    ));
    if compression != config.wire_compression {
        config.log.info(format_args!(
            "{}: the helper does not offer {} wire compression; using {}",
            config.host,
            config.wire_compression.name(),
            compression.name()
        ));
    }
}

/// A configured connection, ready for the pipeline's threads.
pub(crate) struct Configured {
    /// The helper connected to (a member, when `host` named a pool).
    pub host: String,
    pub stream: TcpStream,
    pub info: ServerInfo,
    pub ack: ConfigureAck,
    /// What FRAMEs use: the request, or zstd where the helper lacks it.
    pub compression: WireCompression,
    /// Bytes written so far (HELLO, CONFIGURE).
    pub sent: u64,
}

/// Connects, says HELLO and configures the session; bytes read go to `received`. The
/// returned socket has no read timeout: from here the caller's waits carry it, and the
/// reader may idle for as long as the caller's pipeline stalls.
pub(crate) fn handshake(
    config: &ClientConfig,
    codec: Codec,
    configure: Configure,
    received: &AtomicU64,
) -> Result<Configured, ClientError> {
    let chosen = crate::pool::choose(config, codec)?;
    let config = &chosen;
    let (mut stream, addr) = connect(config)?;
    let (info, hello_bytes) = hello(&mut stream, config, codec, addr)?;
    let compression = info.usable_compression(config.wire_compression);
    let (ack, configure_bytes) =
        configure_session(&mut stream, config, configure, compression, received)?;
    stream
        .set_read_timeout(None)
        .map_err(|e| ClientError::io(&config.host, "configuring the socket", e))?;
    log_connected(config, &info, compression);
    Ok(Configured {
        host: config.host.clone(),
        stream,
        info,
        ack,
        compression,
        sent: hello_bytes + configure_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_option_follows_mode_and_none_is_left_off() {
        let mut o = vec![
            ("mode".to_string(), "encode".to_string()),
            ("wire_compression".to_string(), "3".to_string()),
            ("gop".to_string(), "12".to_string()),
        ];
        set_compression_option(&mut o, WireCompression::Zstd);
        assert_eq!(o[1], ("wire_compression".into(), "2".into()));
        assert_eq!(o.len(), 3);
        set_compression_option(&mut o, WireCompression::None);
        assert!(o.iter().all(|(k, _)| k != "wire_compression"));
    }

    #[test]
    fn host_specs_split_like_users_write_them() {
        assert_eq!(split_host_port("mac:5555").unwrap(), ("mac".into(), 5555));
        assert_eq!(split_host_port("mac").unwrap(), ("mac".into(), 5555));
        assert_eq!(split_host_port("[::1]:6000").unwrap(), ("::1".into(), 6000));
        assert_eq!(split_host_port("::1").unwrap(), ("::1".into(), 5555));
        assert!(split_host_port("mac:port").is_err());
        assert!(split_host_port("").is_err());
        assert!(split_host_port(":5555").is_err());
    }
}

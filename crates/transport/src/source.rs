//! Who is sending: the identity the transport vouches for, and the qrexec facts it comes from.
//!
//! The source is never taken from the payload. Over qrexec dom0 sets it (the
//! `QREXEC_REMOTE_DOMAIN` variable of an executable service, or the `"<service> <source>\0"`
//! header of a socket service); over TLS it is the name the manager gave the certificate at
//! enrolment.

use std::fmt;

/// Environment variable dom0's qrexec daemon sets for an executable service.
pub const REMOTE_DOMAIN_ENV: &str = "QREXEC_REMOTE_DOMAIN";
/// Longest socket-service header accepted (service name, space, qube name, NUL).
pub const MAX_SOCKET_HEADER: usize = 256;

/// How the source identity was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Via {
    /// qrexec: the name dom0 gave.
    Qrexec,
    /// TCP with mutual TLS: the name bound to the enrolled certificate.
    Tls,
    /// A local stream the caller vouches for (tests, `picket up` on one host).
    Local,
}

/// An authenticated sender.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Source {
    /// The qube or host name.
    pub name: String,
    /// Where the name came from.
    pub via: Via,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Why a source identity could not be established.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// `QREXEC_REMOTE_DOMAIN` is not set: not started by qrexec.
    #[error("{REMOTE_DOMAIN_ENV} is not set: this service must be started by qrexec")]
    NoRemoteDomain,
    /// The name is empty, too long or has characters a qube or host name cannot have.
    #[error("invalid source name {0:?}")]
    InvalidName(String),
    /// The socket header has no NUL within [`MAX_SOCKET_HEADER`] bytes.
    #[error("qrexec socket header longer than {MAX_SOCKET_HEADER} bytes")]
    HeaderTooLong,
    /// The socket header is not `"<service> <source>"`.
    #[error("malformed qrexec socket header {0:?}")]
    BadHeader(String),
}

impl Source {
    /// A source after checking the name: 1–64 bytes of ASCII letters, digits, `-`, `_`, `.`,
    /// starting with a letter or digit (qube names are stricter; host names fit too).
    pub fn new(name: &str, via: Via) -> Result<Self, SourceError> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.as_bytes()[0].is_ascii_alphanumeric()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if ok {
            Ok(Source {
                name: name.to_owned(),
                via,
            })
        } else {
            Err(SourceError::InvalidName(name.to_owned()))
        }
    }

    /// The caller of an executable qrexec service, from `QREXEC_REMOTE_DOMAIN`.
    pub fn from_qrexec_env() -> Result<Self, SourceError> {
        let name = std::env::var(REMOTE_DOMAIN_ENV).map_err(|_| SourceError::NoRemoteDomain)?;
        Source::new(&name, Via::Qrexec)
    }
}

/// The header qrexec writes first into a socket service's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketHeader {
    /// The service name, with its `+argument` if any (e.g. `picket.Events`, `qubes.Log`).
    pub service: String,
    /// The calling qube, as dom0 says.
    pub source: Source,
}

impl SocketHeader {
    /// The service name without its `+argument`.
    pub fn base_service(&self) -> &str {
        self.service.split('+').next().unwrap_or(&self.service)
    }
}

/// Parses `"<service> <source>\0"` from the start of `buf`. `Ok(None)` means the NUL has not
/// arrived yet; otherwise the header and the bytes it used.
pub fn parse_socket_header(buf: &[u8]) -> Result<Option<(SocketHeader, usize)>, SourceError> {
    let Some(nul) = buf.iter().position(|&b| b == 0) else {
        return if buf.len() >= MAX_SOCKET_HEADER {
            Err(SourceError::HeaderTooLong)
        } else {
            Ok(None)
        };
    };
    if nul >= MAX_SOCKET_HEADER {
        return Err(SourceError::HeaderTooLong);
    }
    let text = std::str::from_utf8(&buf[..nul])
        .map_err(|_| SourceError::BadHeader(String::from_utf8_lossy(&buf[..nul]).into_owned()))?;
    let mut parts = text.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(service), Some(source), None) if !service.is_empty() => Ok(Some((
            SocketHeader {
                service: service.to_owned(),
                source: Source::new(source, Via::Qrexec)?,
            },
            nul + 1,
        ))),
        _ => Err(SourceError::BadHeader(text.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_header_gives_service_and_source() {
        let (h, used) = parse_socket_header(b"picket.Events+x work\0PCKT")
            .expect("valid")
            .expect("complete");
        assert_eq!(h.service, "picket.Events+x");
        assert_eq!(h.base_service(), "picket.Events");
        assert_eq!(h.source.name, "work");
        assert_eq!(used, 26 - 5);
    }

    #[test]
    fn socket_header_waits_for_nul_then_caps_length() {
        assert_eq!(parse_socket_header(b"picket.Events wo").expect("ok"), None);
        assert_eq!(
            parse_socket_header(&[b'a'; MAX_SOCKET_HEADER]),
            Err(SourceError::HeaderTooLong)
        );
    }

    #[test]
    fn socket_header_rejects_odd_names() {
        assert!(parse_socket_header(b"picket.Events ../etc\0").is_err());
        assert!(parse_socket_header(b"picket.Events a b\0").is_err());
        assert!(parse_socket_header(b"picket.Events\0").is_err());
    }
}

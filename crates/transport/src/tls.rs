//! Mutual TLS with pinned certificates, and enrolment. No web PKI: each side has a
//! self-signed certificate, and each trusts exactly the fingerprints (SHA-256 of the
//! certificate DER) it was told about.
//!
//! Enrolment, once per agent:
//! 1. The manager runs `picket enroll --serve`: it prints its own fingerprint and a
//!    one-time token, and listens ([`serve_enrollment`]).
//! 2. The operator carries both to the agent host and runs `picket enroll --manager
//!    HOST:PORT --token T --pin FP --name NAME` ([`enroll`]). The agent creates its key, connects
//!    (refusing any server but the pinned one), proves possession of its key in the TLS
//!    handshake, and sends the token and the name it asks for.
//! 3. The manager checks the token (constant time, single use), appends the agent's
//!    fingerprint and name to its allowlist file, and answers `OK <name>`.
//!
//! From then on [`server_config`] completes handshakes only with allowlisted certificates:
//! an unenrolled client is refused during the handshake, before any frame is read.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    ring as provider, verify_tls12_signature, verify_tls13_signature, CryptoProvider,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::stream::LinkError;

/// The server name the client asks for. Names are not checked (the pin is), but TLS needs one.
const SERVER_NAME: &str = "picket-manager";
const ENROLL_MAGIC: &str = "PICKET-ENROLL 1";

/// TLS and enrolment errors.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A key or certificate file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Key generation or certificate creation failed.
    #[error("certificate generation: {0}")]
    Generate(String),
    /// A file does not hold what it should.
    #[error("{path}: {reason}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A fingerprint string is not 64 hex digits.
    #[error("bad fingerprint {0:?}: expected 64 hex digits, optionally prefixed sha256:")]
    BadFingerprint(String),
    /// rustls refused the configuration.
    #[error("tls config: {0}")]
    Rustls(#[from] rustls::Error),
    /// The enrolment exchange failed.
    #[error("enrolment: {0}")]
    Enroll(String),
    /// Network error during enrolment.
    #[error("enrolment i/o: {0}")]
    Net(#[from] io::Error),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

/// SHA-256 of a certificate's DER.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of(der: &[u8]) -> Self {
        let d = ring::digest::digest(&ring::digest::SHA256, der);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Fingerprint(out)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<Self, TlsError> {
        let t = s.trim();
        let t = t
            .strip_prefix("sha256:")
            .or_else(|| t.strip_prefix("SHA256:"))
            .unwrap_or(t);
        let hex: Vec<u8> = t.bytes().filter(|&b| b != b':').collect();
        if hex.len() != 64 {
            return Err(TlsError::BadFingerprint(s.to_owned()));
        }
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16);
            let lo = (pair[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(h), Some(l)) => out[i] = (h * 16 + l) as u8,
                _ => return Err(TlsError::BadFingerprint(s.to_owned())),
            }
        }
        Ok(Fingerprint(out))
    }
}

/// A self-signed certificate and its private key.
pub struct Identity {
    /// The certificate.
    pub cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({})", self.fingerprint())
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            cert: self.cert.clone(),
            key: self.key.clone_key(),
        }
    }
}

const KEY_FILE: &str = "identity.key";
const CERT_FILE: &str = "identity.crt";

impl Identity {
    /// A new ECDSA P-256 key with a self-signed certificate naming `name`.
    pub fn generate(name: &str) -> Result<Self, TlsError> {
        let ck = rcgen::generate_simple_self_signed(vec![name.to_owned()])
            .map_err(|e| TlsError::Generate(e.to_string()))?;
        Ok(Identity {
            cert: ck.cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()),
        })
    }

    /// The certificate's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self.cert.as_ref())
    }

    /// Loads `identity.key` and `identity.crt` (DER) from `dir`, creating them (key mode
    /// 0600) if absent. Returns the identity and whether it was created.
    pub fn load_or_create(dir: &Path, name: &str) -> Result<(Self, bool), TlsError> {
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        if key_path.exists() && cert_path.exists() {
            let key = fs::read(&key_path).map_err(io_at(&key_path))?;
            let cert = fs::read(&cert_path).map_err(io_at(&cert_path))?;
            let id = Identity {
                cert: CertificateDer::from(cert),
                key: PrivatePkcs8KeyDer::from(key),
            };
            // Check the pair is usable before anyone relies on it.
            rustls::crypto::ring::sign::any_supported_type(&PrivateKeyDer::Pkcs8(
                id.key.clone_key(),
            ))
            .map_err(|e| TlsError::BadFile {
                path: key_path.clone(),
                reason: e.to_string(),
            })?;
            return Ok((id, false));
        }
        fs::create_dir_all(dir).map_err(io_at(dir))?;
        let id = Identity::generate(name)?;
        write_private(&key_path, id.key.secret_pkcs8_der())?;
        write_private(&cert_path, id.cert.as_ref())?;
        Ok((id, true))
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_at(&tmp))?;
    f.write_all(bytes).map_err(io_at(&tmp))?;
    f.sync_all().map_err(io_at(&tmp))?;
    fs::rename(&tmp, path).map_err(io_at(path))
}

/// The manager's list of enrolled agents: a text file of `<fingerprint> <name>` lines.
/// Re-read when its modification time changes, so an enrolment by another process takes
/// effect without a restart.
#[derive(Debug)]
pub struct Allowlist {
    path: PathBuf,
    cache: RwLock<(Option<SystemTime>, HashMap<Fingerprint, String>)>,
}

impl Allowlist {
    /// The allowlist at `path` (which need not exist yet: then nobody is enrolled).
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, TlsError> {
        let a = Allowlist {
            path: path.into(),
            cache: RwLock::new((None, HashMap::new())),
        };
        a.reload()?;
        Ok(a)
    }

    fn reload(&self) -> Result<(), TlsError> {
        let mtime = fs::metadata(&self.path).and_then(|m| m.modified()).ok();
        if let Ok(c) = self.cache.read() {
            if c.0 == mtime && mtime.is_some() {
                return Ok(());
            }
        }
        let mut map = HashMap::new();
        match fs::read_to_string(&self.path) {
            Ok(text) => {
                for (i, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let mut it = line.split_whitespace();
                    let (Some(fp), Some(name)) = (it.next(), it.next()) else {
                        return Err(TlsError::BadFile {
                            path: self.path.clone(),
                            reason: format!("line {}: expected `<fingerprint> <name>`", i + 1),
                        });
                    };
                    let fp = fp.parse::<Fingerprint>().map_err(|e| TlsError::BadFile {
                        path: self.path.clone(),
                        reason: format!("line {}: {e}", i + 1),
                    })?;
                    map.insert(fp, name.to_owned());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_at(&self.path)(e)),
        }
        if let Ok(mut c) = self.cache.write() {
            *c = (mtime, map);
        }
        Ok(())
    }

    /// The name enrolled for `fp`, if any.
    pub fn lookup(&self, fp: &Fingerprint) -> Option<String> {
        // A broken file keeps the last good list rather than locking everyone out.
        let _ = self.reload();
        self.cache.read().ok()?.1.get(fp).cloned()
    }

    /// Enrols `fp` as `name` (appends and fsyncs).
    pub fn add(&self, fp: Fingerprint, name: &str) -> Result<(), TlsError> {
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(io_at(dir))?;
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io_at(&self.path))?;
        writeln!(f, "{fp} {name}").map_err(io_at(&self.path))?;
        f.sync_all().map_err(io_at(&self.path))?;
        if let Ok(mut c) = self.cache.write() {
            c.1.insert(fp, name.to_owned());
            c.0 = None;
        }
        Ok(())
    }

    /// Number of enrolled certificates.
    pub fn len(&self) -> usize {
        let _ = self.reload();
        self.cache.read().map(|c| c.1.len()).unwrap_or(0)
    }

    /// True when nobody is enrolled.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn crypto() -> Arc<CryptoProvider> {
    Arc::new(provider::default_provider())
}

/// Accepts client certificates by fingerprint: in the allowlist, or any (enrolment).
#[derive(Debug)]
struct PinnedClients {
    allow: Option<Arc<Allowlist>>,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for PinnedClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match &self.allow {
            None => Ok(ClientCertVerified::assertion()),
            Some(list) => {
                let fp = Fingerprint::of(end_entity.as_ref());
                if list.lookup(&fp).is_some() {
                    Ok(ClientCertVerified::assertion())
                } else {
                    Err(rustls::Error::General(format!(
                        "client certificate {fp} is not enrolled"
                    )))
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Accepts exactly one server certificate, by fingerprint.
#[derive(Debug)]
struct PinnedServer {
    pin: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = Fingerprint::of(end_entity.as_ref());
        if fp == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "manager certificate {fp} does not match the pinned {}",
                self.pin
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn server_config_inner(
    identity: &Identity,
    allow: Option<Arc<Allowlist>>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = crypto();
    let verifier = Arc::new(PinnedClients {
        allow,
        provider: provider.clone(),
    });
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![identity.cert.clone()],
            PrivateKeyDer::Pkcs8(identity.key.clone_key()),
        )?;
    Ok(Arc::new(config))
}

/// The manager's TLS 1.3 config: client certificates required, and only allowlisted ones
/// complete the handshake.
pub fn server_config(
    identity: &Identity,
    allowlist: Arc<Allowlist>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    server_config_inner(identity, Some(allowlist))
}

/// The agent's TLS 1.3 config: presents `identity`, accepts only the server `pin`.
pub fn client_config(
    identity: &Identity,
    pin: Fingerprint,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = crypto();
    let verifier = Arc::new(PinnedServer {
        pin,
        provider: provider.clone(),
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(
            vec![identity.cert.clone()],
            PrivateKeyDer::Pkcs8(identity.key.clone_key()),
        )?;
    Ok(Arc::new(config))
}

/// Connects and completes the TLS handshake. A manager that refuses our certificate
/// usually shows up here or at the first read (TLS 1.3 sends the refusal after the
/// client's Finished).
pub fn connect(
    addr: impl ToSocketAddrs,
    identity: &Identity,
    pin: Fingerprint,
    timeout: Duration,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, LinkError> {
    let config = client_config(identity, pin).map_err(|e| LinkError::Protocol(e.to_string()))?;
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address");
    let mut tcp = None;
    for a in addr.to_socket_addrs()? {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut tcp = tcp.ok_or(last)?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(SERVER_NAME).map_err(|e| LinkError::Protocol(e.to_string()))?;
    let mut conn = rustls::ClientConnection::new(config, name)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)?;
    }
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// A fresh one-time enrolment token: 128 random bits in hex.
pub fn new_token() -> Result<String, TlsError> {
    let mut b = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b)
        .map_err(|_| TlsError::Generate("no randomness for the token".into()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn same_secret(a: &[u8], b: &[u8]) -> bool {
    // Constant time in the contents; the length of a token is not secret.
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A successful enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The agent's certificate fingerprint, now in the allowlist.
    pub fingerprint: Fingerprint,
    /// The name it is enrolled under.
    pub name: String,
}

/// Manager side: serves enrolment on `listener` until one agent presents `token`, then
/// adds it to `allowlist` and returns. Gives up after `max_failures` wrong attempts.
pub fn serve_enrollment(
    listener: &TcpListener,
    identity: &Identity,
    allowlist: &Allowlist,
    token: &str,
    max_failures: u32,
    timeout: Duration,
) -> Result<Enrolled, TlsError> {
    let config = server_config_inner(identity, None)?;
    let mut failures = 0;
    loop {
        let (mut tcp, _) = listener.accept()?;
        match enroll_one(&mut tcp, config.clone(), allowlist, token, timeout) {
            Ok(e) => return Ok(e),
            Err(e) => {
                failures += 1;
                if failures >= max_failures {
                    return Err(TlsError::Enroll(format!(
                        "{failures} failed attempts, last: {e}; token withdrawn"
                    )));
                }
            }
        }
    }
}

fn enroll_one(
    tcp: &mut TcpStream,
    config: Arc<rustls::ServerConfig>,
    allowlist: &Allowlist,
    token: &str,
    timeout: Duration,
) -> Result<Enrolled, TlsError> {
    tcp.set_read_timeout(Some(timeout))?;
    let mut conn = rustls::ServerConnection::new(config)?;
    while conn.is_handshaking() {
        conn.complete_io(tcp)?;
    }
    let fp = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| Fingerprint::of(c.as_ref()))
        .ok_or_else(|| TlsError::Enroll("no client certificate".into()))?;
    let mut stream = rustls::Stream::new(&mut conn, tcp);
    let mut line = String::new();
    BufReader::new((&mut stream).take(512)).read_line(&mut line)?;
    let mut parts = line.trim_end().split(' ');
    let ok_magic = parts.next() == Some("PICKET-ENROLL") && parts.next() == Some("1");
    let (given, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let refuse = |stream: &mut rustls::Stream<'_, _, _>, why: &str| {
        let _ = stream.write_all(format!("DENIED {why}\n").as_bytes());
        let _ = stream.flush();
        TlsError::Enroll(why.to_owned())
    };
    if !ok_magic {
        return Err(refuse(&mut stream, "not an enrolment request"));
    }
    if !same_secret(given.as_bytes(), token.as_bytes()) {
        return Err(refuse(&mut stream, "wrong token"));
    }
    if crate::source::Source::new(name, crate::source::Via::Tls).is_err() {
        return Err(refuse(&mut stream, "invalid name"));
    }
    allowlist.add(fp, name)?;
    stream.write_all(format!("OK {name}\n").as_bytes())?;
    stream.flush()?;
    stream.conn.send_close_notify();
    let _ = stream.flush();
    Ok(Enrolled {
        fingerprint: fp,
        name: name.to_owned(),
    })
}

/// Agent side: enrols `identity` as `name` with the manager at `addr`, which must present
/// the certificate `pin`.
pub fn enroll(
    addr: impl ToSocketAddrs,
    identity: &Identity,
    pin: Fingerprint,
    token: &str,
    name: &str,
    timeout: Duration,
) -> Result<String, TlsError> {
    let mut stream =
        connect(addr, identity, pin, timeout).map_err(|e| TlsError::Enroll(e.to_string()))?;
    stream.write_all(format!("{ENROLL_MAGIC} {token} {name}\n").as_bytes())?;
    stream.flush()?;
    let mut line = String::new();
    BufReader::new((&mut stream).take(512)).read_line(&mut line)?;
    let line = line.trim_end();
    match line.strip_prefix("OK ") {
        Some(granted) => Ok(granted.to_owned()),
        None => Err(TlsError::Enroll(format!("manager answered {line:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_parses_with_prefix_colons_and_case() {
        let id = Identity::generate("x").expect("gen");
        let fp = id.fingerprint();
        let s = fp.to_string();
        assert_eq!(s.parse::<Fingerprint>().expect("plain"), fp);
        assert_eq!(
            format!("sha256:{}", s.to_uppercase())
                .parse::<Fingerprint>()
                .expect("prefixed"),
            fp
        );
        let colons: Vec<String> = s
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        assert_eq!(colons.join(":").parse::<Fingerprint>().expect("colons"), fp);
        assert!("abc".parse::<Fingerprint>().is_err());
        assert!("zz".repeat(32).parse::<Fingerprint>().is_err());
    }

    #[test]
    fn identity_persists_with_private_key_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().expect("tmp");
        let (a, created) = Identity::load_or_create(d.path(), "agent").expect("create");
        assert!(created);
        let (b, created) = Identity::load_or_create(d.path(), "agent").expect("load");
        assert!(!created);
        assert_eq!(a.fingerprint(), b.fingerprint());
        let mode = fs::metadata(d.path().join(KEY_FILE))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0);
    }

    #[test]
    fn allowlist_add_lookup_and_reload() {
        let d = tempfile::tempdir().expect("tmp");
        let path = d.path().join("allow");
        let a = Allowlist::open(&path).expect("open");
        assert!(a.is_empty());
        let fp = Identity::generate("x").expect("gen").fingerprint();
        a.add(fp, "host1").expect("add");
        assert_eq!(a.lookup(&fp).as_deref(), Some("host1"));
        let b = Allowlist::open(&path).expect("reopen");
        assert_eq!(b.lookup(&fp).as_deref(), Some("host1"));
    }

    #[test]
    fn token_compare() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"ab"));
        assert_eq!(new_token().expect("token").len(), 32);
    }
}

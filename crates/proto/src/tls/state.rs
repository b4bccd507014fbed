//! Per-flow TLS state: record reassembly and handshake reassembly per direction, both capped,
//! and what the handshake revealed. Parsing stops in a direction once it turns encrypted.

use crate::parse::ParseError;
use crate::{AppEvent, AppParser, Direction};

use super::logger::tls_body;
use super::parser::*;
use super::x509::{parse_certificate, CertInfo};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsStats {
    pub records: u64,
    pub malformed: u64,
    /// Handshake messages larger than `MAX_HANDSHAKE_LEN`.
    pub too_large: u64,
    pub gaps: u64,
}

#[derive(Debug, Default)]
struct Side {
    record_buf: Vec<u8>,
    handshake_buf: Vec<u8>,
    encrypted: bool,
    stopped: bool,
    ccs_seen: bool,
}

/// What one flow's handshake revealed, in the order it arrived.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The ClientHellos seen: the first, and the second a HelloRetryRequest asks for.
    pub client_hellos: Vec<ClientHello>,
    pub server_hello: Option<ServerHello>,
    /// The leaf certificate the server sent, if it parsed.
    pub server_cert: Option<CertInfo>,
    pub server_cert_count: usize,
    /// The server asked for a client certificate (TLS 1.2 and earlier).
    pub cert_request: bool,
    /// The leaf certificate the client sent, if it parsed.
    pub client_cert: Option<CertInfo>,
    pub client_cert_count: usize,
    pub session_resumed: bool,
    pub hello_retry: bool,
}

#[derive(Debug, Default)]
pub struct TlsParser {
    sides: [Side; 2],
    hs: Handshake,
    logged: bool,
    /// The DER certificates of each side (server, client), kept only until the handshake
    /// record has been inspected: rules on `tls.certs` read them, EVE does not.
    certs: [Vec<Vec<u8>>; 2],
    pub stats: TlsStats,
}

fn idx(d: Direction) -> usize {
    match d {
        Direction::ToServer => 0,
        Direction::ToClient => 1,
    }
}

impl TlsParser {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn handshake(&self) -> &Handshake {
        &self.hs
    }

    /// The first ClientHello (the one JA3 and JA4 describe).
    pub fn client_hello(&self) -> Option<&ClientHello> {
        self.hs.client_hellos.first()
    }

    /// Every ClientHello seen, at most two (the second answers a HelloRetryRequest).
    pub fn client_hellos(&self) -> &[ClientHello] {
        &self.hs.client_hellos
    }

    pub fn server_hello(&self) -> Option<&ServerHello> {
        self.hs.server_hello.as_ref()
    }

    fn log(&mut self, out: &mut Vec<AppEvent>) {
        if self.logged || (self.hs.client_hellos.is_empty() && self.hs.server_hello.is_none()) {
            return;
        }
        self.logged = true;
        out.push(AppEvent::new("tls", tls_body(&self.hs)));
    }

    fn handshake_message(&mut self, d: Direction, t: u8, body: &[u8], out: &mut Vec<AppEvent>) {
        match (d, t) {
            (Direction::ToServer, HS_CLIENT_HELLO) if self.hs.client_hellos.len() < 2 => {
                match parse_client_hello(body) {
                    Ok(ch) => self.hs.client_hellos.push(ch),
                    Err(_) => self.stats.malformed += 1,
                }
            }
            (Direction::ToClient, HS_SERVER_HELLO) if self.hs.server_hello.is_none() => {
                match parse_server_hello(body) {
                    Ok(sh) if sh.hello_retry => self.hs.hello_retry = true,
                    Ok(sh) => {
                        let tls13 = is_tls13(sh.version());
                        self.hs.server_hello = Some(sh);
                        if tls13 {
                            // Everything after the TLS 1.3 ServerHello is encrypted.
                            self.sides[1].encrypted = true;
                            self.log(out);
                        }
                    }
                    Err(_) => self.stats.malformed += 1,
                }
            }
            (Direction::ToClient, HS_CERTIFICATE) if self.hs.server_cert_count == 0 => {
                match parse_certificate_list(body) {
                    Ok(certs) => {
                        self.hs.server_cert_count = certs.len();
                        self.hs.server_cert = certs.first().and_then(|c| parse_certificate(c).ok());
                        self.certs[0] = certs.iter().map(|c| c.to_vec()).collect();
                    }
                    Err(_) => self.stats.malformed += 1,
                }
            }
            (Direction::ToServer, HS_CERTIFICATE) if self.hs.client_cert_count == 0 => {
                match parse_certificate_list(body) {
                    Ok(certs) => {
                        self.hs.client_cert_count = certs.len();
                        self.hs.client_cert = certs.first().and_then(|c| parse_certificate(c).ok());
                        self.certs[1] = certs.iter().map(|c| c.to_vec()).collect();
                    }
                    Err(_) => self.stats.malformed += 1,
                }
                if self.hs.cert_request {
                    self.log(out);
                }
            }
            (Direction::ToClient, HS_CERTIFICATE_REQUEST) => self.hs.cert_request = true,
            // A server that asked for a client certificate has not finished the handshake
            // until the client answers: the record waits for the client's Certificate.
            (Direction::ToClient, HS_SERVER_HELLO_DONE) if !self.hs.cert_request => self.log(out),
            _ => {}
        }
    }

    fn record(&mut self, d: Direction, h: RecordHeader, frag: &[u8], out: &mut Vec<AppEvent>) {
        let i = idx(d);
        self.stats.records += 1;
        match h.content_type {
            CONTENT_HANDSHAKE if !self.sides[i].encrypted => {
                let mut buf = std::mem::take(&mut self.sides[i].handshake_buf);
                buf.extend_from_slice(frag);
                let mut off = 0;
                loop {
                    match parse_handshake(&buf[off..]) {
                        Ok((t, body, used)) => {
                            self.handshake_message(d, t, body, out);
                            off += used;
                            if self.sides[i].encrypted {
                                off = buf.len();
                                break;
                            }
                        }
                        Err(ParseError::Incomplete { .. }) => break,
                        Err(_) => {
                            self.stats.too_large += 1;
                            self.sides[i].stopped = true;
                            return;
                        }
                    }
                }
                buf.drain(..off);
                self.sides[i].handshake_buf = buf;
            }
            CONTENT_CCS => {
                // TLS 1.3 peers send a dummy ChangeCipherSpec for middlebox compatibility, even
                // before the ServerHello; their encrypted records are all type 23, so only a
                // CCS after a pre-1.3 ServerHello ends the plaintext handshake.
                let pre13 = matches!(&self.hs.server_hello, Some(sh) if !is_tls13(sh.version()));
                if !pre13 {
                    return;
                }
                self.sides[i].encrypted = true;
                self.sides[i].ccs_seen = true;
                self.sides[i].handshake_buf.clear();
                if d == Direction::ToClient {
                    // A server that goes straight from ServerHello to ChangeCipherSpec
                    // resumed a session (abbreviated handshake).
                    if let (Some(ch), Some(sh)) =
                        (self.hs.client_hellos.first(), &self.hs.server_hello)
                    {
                        if self.hs.server_cert_count == 0
                            && !sh.session_id.is_empty()
                            && sh.session_id == ch.session_id
                            && !is_tls13(sh.version())
                        {
                            self.hs.session_resumed = true;
                        }
                    }
                    self.log(out);
                }
            }
            CONTENT_APPDATA => {
                self.sides[i].encrypted = true;
                if d == Direction::ToClient {
                    self.log(out);
                }
            }
            _ => {}
        }
    }
}

impl AppParser for TlsParser {
    fn app_proto(&self) -> &'static str {
        "tls"
    }

    fn feed(&mut self, direction: Direction, data: &[u8], out: &mut Vec<AppEvent>) {
        if self.logged && !self.certs.iter().all(Vec::is_empty) {
            // The record was inspected when it was logged; nothing reads the DER after.
            self.certs = Default::default();
        }
        let i = idx(direction);
        if self.sides[i].stopped || (self.sides[i].encrypted && self.logged) {
            return;
        }
        let mut buf = std::mem::take(&mut self.sides[i].record_buf);
        buf.extend_from_slice(data);
        let mut off = 0;
        loop {
            match parse_record(&buf[off..]) {
                Ok((h, frag, used)) => {
                    self.record(direction, h, frag, out);
                    off += used;
                    if self.sides[i].stopped {
                        return;
                    }
                }
                Err(ParseError::Incomplete { .. }) => break,
                Err(_) => {
                    // Not TLS (or lost sync): stop this direction for good.
                    self.stats.malformed += 1;
                    self.sides[i].stopped = true;
                    self.sides[i].record_buf = Vec::new();
                    return;
                }
            }
        }
        buf.drain(..off);
        // A complete record is at most 5 + MAX_RECORD_LEN, so an incomplete one is smaller.
        self.sides[i].record_buf = buf;
    }

    fn gap(&mut self, direction: Direction, _len: u64) {
        let s = &mut self.sides[idx(direction)];
        self.stats.gaps += 1;
        s.stopped = true;
        s.record_buf = Vec::new();
        s.handshake_buf = Vec::new();
    }

    fn finish(&mut self, out: &mut Vec<AppEvent>) {
        self.log(out);
    }

    fn parse_errors(&self) -> u64 {
        self.stats.malformed + self.stats.too_large
    }

    fn encrypted(&self, direction: Direction) -> bool {
        self.sides[idx(direction)].encrypted
    }

    /// The hello randoms, every certificate of each side (`tls.certs` on the server's and
    /// the client's), and the client certificate's fields, which the EVE record (Suricata's
    /// default) leaves out but `tls.cert_subject` and its kin inspect on the client side.
    fn detect_buffers<'a>(&'a self, _tx_id: Option<u64>, out: &mut Vec<(&'static str, &'a [u8])>) {
        if let Some(ch) = self.hs.client_hellos.first() {
            out.push(("tls.random.client", &ch.random));
        }
        if let Some(sh) = &self.hs.server_hello {
            out.push(("tls.random.server", &sh.random));
        }
        for c in &self.certs[0] {
            out.push(("tls.certs.server", c));
        }
        for c in &self.certs[1] {
            out.push(("tls.certs.client", c));
        }
        if let Some(c) = &self.hs.client_cert {
            out.push(("tls.client.subject", c.subject.as_bytes()));
            out.push(("tls.client.issuerdn", c.issuer.as_bytes()));
            out.push(("tls.client.serial", c.serial.as_bytes()));
            out.push(("tls.client.fingerprint", c.fingerprint.as_bytes()));
        }
    }
}

//! The inspection buffers: sticky buffer keywords, their legacy aliases, the legacy content
//! modifiers that move the previous content into a buffer, and transforms.

/// The raw packet or stream payload (no sticky buffer active, or after `pkt_data`).
pub const PAYLOAD: &str = "payload";

/// `(canonical name, app-layer protocol or "" for any, aliases)`.
const STICKY: &[(&str, &str, &[&str])] = &[
    ("http.uri", "http|doh2", &[]),
    ("http.uri.raw", "http|doh2", &[]),
    ("http.method", "http|doh2", &[]),
    ("http.host", "http|doh2", &[]),
    ("http.host.raw", "http|doh2", &[]),
    ("http.user_agent", "http|doh2", &[]),
    ("http.header", "http|doh2", &[]),
    ("http.header.raw", "http|doh2", &[]),
    ("http.cookie", "http|doh2", &[]),
    ("http.stat_code", "http|doh2", &[]),
    ("http.stat_msg", "http|doh2", &[]),
    ("http.request_body", "http|doh2", &[]),
    ("http.response_body", "http|doh2", &[]),
    ("http.content_type", "http|doh2", &["http_content_type"]),
    ("http.content_len", "http|doh2", &["http_content_len"]),
    ("http.header_names", "http|doh2", &["http_header_names"]),
    ("http.request_line", "http|doh2", &["http_request_line"]),
    ("http.response_line", "http|doh2", &["http_response_line"]),
    ("http.start", "http|doh2", &["http_start"]),
    ("http.protocol", "http|doh2", &["http_protocol"]),
    ("http.referer", "http|doh2", &["http_referer"]),
    ("http.location", "http|doh2", &[]),
    ("http.server", "http|doh2", &[]),
    ("http.accept", "http|doh2", &["http_accept"]),
    ("http.accept_enc", "http|doh2", &["http_accept_enc"]),
    ("http.accept_lang", "http|doh2", &["http_accept_lang"]),
    ("http.connection", "http|doh2", &["http_connection"]),
    ("http.request_header", "http|doh2", &[]),
    ("http.response_header", "http|doh2", &[]),
    ("file.data", "", &["file_data"]),
    ("file.name", "", &["filename"]),
    ("dns.query", "dns|doh2|mdns|llmnr", &["dns_query"]),
    ("dns.queries.rrname", "dns|doh2|mdns|llmnr", &[]),
    ("dns.answers.rrname", "dns|doh2|mdns|llmnr", &[]),
    ("dns.authorities.rrname", "dns|doh2|mdns|llmnr", &[]),
    ("dns.additionals.rrname", "dns|doh2|mdns|llmnr", &[]),
    ("mdns.queries.rrname", "mdns", &[]),
    ("mdns.answers.rrname", "mdns", &[]),
    ("mdns.authorities.rrname", "mdns", &[]),
    ("mdns.additionals.rrname", "mdns", &[]),
    ("mdns.response.rrname", "mdns", &[]),
    ("llmnr.queries.rrname", "llmnr", &[]),
    ("llmnr.answers.rrname", "llmnr", &[]),
    ("llmnr.authorities.rrname", "llmnr", &[]),
    ("llmnr.additionals.rrname", "llmnr", &[]),
    ("quic.sni", "quic", &[]),
    ("quic.ua", "quic", &[]),
    ("tls.alpn", "tls", &[]),
    ("tls.random", "tls", &[]),
    ("tls.random_time", "tls", &[]),
    ("tls.random_bytes", "tls", &[]),
    ("tls.sni", "tls", &["tls_sni"]),
    ("tls.cert_subject", "tls", &["tls_cert_subject"]),
    ("tls.cert_issuer", "tls", &["tls_cert_issuer"]),
    ("tls.cert_serial", "tls", &["tls_cert_serial"]),
    ("tls.cert_fingerprint", "tls", &["tls_cert_fingerprint"]),
    ("tls.certs", "tls", &[]),
    ("tls.subjectaltname", "tls", &[]),
    ("ja3.hash", "tls|quic", &["ja3_hash"]),
    ("ja3.string", "tls|quic", &["ja3_string"]),
    ("ja3s.hash", "tls", &["ja3s_hash"]),
    ("ja3s.string", "tls", &["ja3s_string"]),
    ("ja4.hash", "tls|quic", &[]),
    ("ssh.proto", "ssh", &["ssh_proto"]),
    ("ssh.software", "ssh", &["ssh_software"]),
    ("ssh.hassh", "ssh", &[]),
    ("ssh.hassh.string", "ssh", &[]),
    ("ssh.hassh.server", "ssh", &[]),
    ("ssh.hassh.server.string", "ssh", &[]),
    ("smb.named_pipe", "smb", &[]),
    ("smb.share", "smb", &[]),
    ("smtp.helo", "smtp", &[]),
    ("smtp.mail_from", "smtp", &[]),
    ("smtp.rcpt_to", "smtp", &[]),
    ("ftp.command", "ftp", &[]),
    ("ftp.command_data", "ftp", &[]),
    ("base64_data", "", &[]),
    ("ipv4.hdr", "", &[]),
    ("ipv6.hdr", "", &[]),
    ("tcp.hdr", "", &[]),
    ("udp.hdr", "", &[]),
    ("icmpv4.hdr", "", &[]),
    ("icmpv6.hdr", "", &[]),
];

/// Buffers every packet fills from its own headers: inspected with the packet, not with
/// an app-layer record.
pub const PACKET_HEADERS: &[&str] = &[
    "ipv4.hdr",
    "ipv6.hdr",
    "tcp.hdr",
    "udp.hdr",
    "icmpv4.hdr",
    "icmpv6.hdr",
];

/// Whether `buffer` is filled per packet (the payload or a header buffer).
pub fn is_packet_buffer(buffer: &str) -> bool {
    buffer == PAYLOAD || PACKET_HEADERS.contains(&buffer)
}

/// Integer and enumerated app-layer keywords (`dns.opcode:4`): each inspects one value the
/// app layer exposes as a buffer of the same name, with its protocols as in `STICKY`.
const VALUE_KEYWORDS: &[(&str, &str)] = &[
    ("dns.opcode", "dns|doh2|mdns|llmnr"),
    ("tls.cert_chain_len", "tls"),
    ("ssl_version", "tls"),
];

/// The buffer a value keyword inspects (its own name), if `keyword` is one.
pub fn value_keyword(keyword: &str) -> Option<&'static str> {
    VALUE_KEYWORDS
        .iter()
        .find(|(k, _)| *k == keyword)
        .map(|(k, _)| *k)
}

/// Legacy content modifiers: keyword → buffer the previous content moves to.
const LEGACY_MODIFIERS: &[(&str, &str)] = &[
    ("http_uri", "http.uri"),
    ("http_raw_uri", "http.uri.raw"),
    ("http_header", "http.header"),
    ("http_raw_header", "http.header.raw"),
    ("http_cookie", "http.cookie"),
    ("http_method", "http.method"),
    ("http_client_body", "http.request_body"),
    ("http_server_body", "http.response_body"),
    ("http_stat_code", "http.stat_code"),
    ("http_stat_msg", "http.stat_msg"),
    ("http_user_agent", "http.user_agent"),
    ("http_host", "http.host"),
    ("http_raw_host", "http.host.raw"),
];

/// Transforms applied to the current sticky buffer before matching.
pub(crate) const TRANSFORMS: &[&str] = &[
    "dotprefix",
    "to_lowercase",
    "to_uppercase",
    "strip_whitespace",
    "compress_whitespace",
    "url_decode",
    "to_md5",
    "to_sha1",
    "to_sha256",
    "header_lowercase",
    "strip_pseudo_headers",
    "xor",
    "pcrexform",
    "from_base64",
    "domain",
    "tld",
];

/// The canonical sticky buffer for a keyword (canonical name or alias).
pub fn sticky_buffer(keyword: &str) -> Option<&'static str> {
    STICKY
        .iter()
        .find(|(name, _, aliases)| *name == keyword || aliases.contains(&keyword))
        .map(|(name, _, _)| *name)
}

/// The buffer a legacy content modifier moves content into.
pub fn legacy_modifier(keyword: &str) -> Option<&'static str> {
    LEGACY_MODIFIERS
        .iter()
        .find(|(k, _)| *k == keyword)
        .map(|(_, b)| *b)
}

/// The app-layer protocols a buffer belongs to (`|`-separated, the first is the usual one),
/// or `None` for protocol-neutral buffers.
pub fn buffer_protocol(buffer: &str) -> Option<&'static str> {
    STICKY
        .iter()
        .find(|(name, _, _)| *name == buffer)
        .map(|(_, proto, _)| *proto)
        .or_else(|| {
            VALUE_KEYWORDS
                .iter()
                .find(|(k, _)| *k == buffer)
                .map(|(_, p)| *p)
        })
        .filter(|proto| !proto.is_empty())
}

/// The canonical transform name, if `keyword` is one.
pub(crate) fn transform(keyword: &str) -> Option<&'static str> {
    TRANSFORMS.iter().find(|t| **t == keyword).copied()
}

//! The inspection buffers: sticky buffer keywords, their legacy aliases, the legacy content
//! modifiers that move the previous content into a buffer, and transforms.

/// The raw packet or stream payload (no sticky buffer active, or after `pkt_data`).
pub const PAYLOAD: &str = "payload";

/// `(canonical name, app-layer protocol or "" for any, aliases)`.
const STICKY: &[(&str, &str, &[&str])] = &[
    ("http.uri", "http", &[]),
    ("http.uri.raw", "http", &[]),
    ("http.method", "http", &[]),
    ("http.host", "http", &[]),
    ("http.host.raw", "http", &[]),
    ("http.user_agent", "http", &[]),
    ("http.header", "http", &[]),
    ("http.header.raw", "http", &[]),
    ("http.cookie", "http", &[]),
    ("http.stat_code", "http", &[]),
    ("http.stat_msg", "http", &[]),
    ("http.request_body", "http", &[]),
    ("http.response_body", "http", &[]),
    ("http.content_type", "http", &["http_content_type"]),
    ("http.content_len", "http", &["http_content_len"]),
    ("http.header_names", "http", &["http_header_names"]),
    ("http.request_line", "http", &["http_request_line"]),
    ("http.response_line", "http", &["http_response_line"]),
    ("http.start", "http", &["http_start"]),
    ("http.protocol", "http", &["http_protocol"]),
    ("http.referer", "http", &["http_referer"]),
    ("http.location", "http", &[]),
    ("http.server", "http", &[]),
    ("http.accept", "http", &["http_accept"]),
    ("http.accept_enc", "http", &["http_accept_enc"]),
    ("http.accept_lang", "http", &["http_accept_lang"]),
    ("http.connection", "http", &["http_connection"]),
    ("http.request_header", "http", &[]),
    ("http.response_header", "http", &[]),
    ("file.data", "", &["file_data"]),
    ("file.name", "", &["filename"]),
    ("dns.query", "dns", &["dns_query"]),
    ("dns.queries.rrname", "dns", &[]),
    ("dns.answers.rrname", "dns", &[]),
    ("tls.sni", "tls", &["tls_sni"]),
    ("tls.cert_subject", "tls", &["tls_cert_subject"]),
    ("tls.cert_issuer", "tls", &["tls_cert_issuer"]),
    ("tls.cert_serial", "tls", &["tls_cert_serial"]),
    ("tls.cert_fingerprint", "tls", &["tls_cert_fingerprint"]),
    ("tls.certs", "tls", &[]),
    ("tls.subjectaltname", "tls", &[]),
    ("ja3.hash", "tls", &["ja3_hash"]),
    ("ja3.string", "tls", &["ja3_string"]),
    ("ja3s.hash", "tls", &["ja3s_hash"]),
    ("ja3s.string", "tls", &["ja3s_string"]),
    ("ja4.hash", "tls", &[]),
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
];

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

/// The app-layer protocol a buffer belongs to, or `None` for protocol-neutral buffers.
pub fn buffer_protocol(buffer: &str) -> Option<&'static str> {
    STICKY
        .iter()
        .find(|(name, _, _)| *name == buffer)
        .and_then(|(_, proto, _)| (!proto.is_empty()).then_some(*proto))
}

/// The canonical transform name, if `keyword` is one.
pub(crate) fn transform(keyword: &str) -> Option<&'static str> {
    TRANSFORMS.iter().find(|t| **t == keyword).copied()
}

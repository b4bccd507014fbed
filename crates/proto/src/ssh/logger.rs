//! The EVE `ssh` object: `client` and `server`, each with its banner and HASSH.

use serde_json::{json, Map, Value};

use super::parser::{Banner, Hassh};

fn side(banner: Option<&Banner>, hassh: Option<&Hassh>) -> Option<Value> {
    if banner.is_none() && hassh.is_none() {
        return None;
    }
    let mut o = Map::new();
    if let Some(b) = banner {
        o.insert("proto_version".into(), json!(b.proto_version));
        o.insert("software_version".into(), json!(b.software_version));
    }
    if let Some(h) = hassh {
        o.insert("hassh".into(), json!({"hash": h.hash, "string": h.string}));
    }
    Some(Value::Object(o))
}

pub fn ssh_body(
    client: Option<&Banner>,
    client_hassh: Option<&Hassh>,
    server: Option<&Banner>,
    server_hassh: Option<&Hassh>,
) -> Value {
    let mut o = Map::new();
    if let Some(c) = side(client, client_hassh) {
        o.insert("client".into(), c);
    }
    if let Some(s) = side(server, server_hassh) {
        o.insert("server".into(), s);
    }
    Value::Object(o)
}

//! Address and port variables (`$HOME_NET`, `$HTTP_PORTS`), with Suricata-like defaults.

use std::collections::BTreeMap;

use crate::header::{AddressExpr, PortExpr};

/// Why a variable table could not be built.
#[derive(Debug, thiserror::Error)]
pub enum VarsError {
    /// The TOML text did not parse or had unknown sections.
    #[error("variables config: {0}")]
    Toml(#[from] toml::de::Error),
    /// A variable's value is not a valid address or port expression.
    #[error("variable `{name}`: invalid value `{value}`")]
    BadValue {
        /// The variable name, without `$`.
        name: String,
        /// Its value as written.
        value: String,
    },
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VarsFile {
    #[serde(default, rename = "address-groups")]
    address_groups: BTreeMap<String, String>,
    #[serde(default, rename = "port-groups")]
    port_groups: BTreeMap<String, String>,
}

/// The variable table used to resolve rule headers.
#[derive(Debug, Clone)]
pub struct Variables {
    addresses: BTreeMap<String, AddressExpr>,
    ports: BTreeMap<String, PortExpr>,
}

const DEFAULT_ADDRESSES: &[(&str, &str)] = &[
    (
        "HOME_NET",
        "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12,fc00::/7]",
    ),
    ("EXTERNAL_NET", "!$HOME_NET"),
    ("HTTP_SERVERS", "$HOME_NET"),
    ("SMTP_SERVERS", "$HOME_NET"),
    ("SQL_SERVERS", "$HOME_NET"),
    ("DNS_SERVERS", "$HOME_NET"),
    ("TELNET_SERVERS", "$HOME_NET"),
    ("AIM_SERVERS", "$EXTERNAL_NET"),
    ("DC_SERVERS", "$HOME_NET"),
    ("DNP3_SERVER", "$HOME_NET"),
    ("DNP3_CLIENT", "$HOME_NET"),
    ("MODBUS_CLIENT", "$HOME_NET"),
    ("MODBUS_SERVER", "$HOME_NET"),
    ("ENIP_CLIENT", "$HOME_NET"),
    ("ENIP_SERVER", "$HOME_NET"),
];

const DEFAULT_PORTS: &[(&str, &str)] = &[
    ("HTTP_PORTS", "80"),
    ("SHELLCODE_PORTS", "!80"),
    ("ORACLE_PORTS", "1521"),
    ("SSH_PORTS", "22"),
    ("DNP3_PORTS", "20000"),
    ("MODBUS_PORTS", "502"),
    ("FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"),
    ("FTP_PORTS", "21"),
    ("GENEVE_PORTS", "6081"),
    ("VXLAN_PORTS", "4789"),
    ("TEREDO_PORTS", "3544"),
];

const MAX_RESOLVE_DEPTH: usize = 16;

impl Default for Variables {
    fn default() -> Self {
        let mut v = Variables {
            addresses: BTreeMap::new(),
            ports: BTreeMap::new(),
        };
        for (k, val) in DEFAULT_ADDRESSES {
            if let Some(e) = AddressExpr::parse(val) {
                v.addresses.insert((*k).to_string(), e);
            }
        }
        for (k, val) in DEFAULT_PORTS {
            if let Some(e) = PortExpr::parse(val) {
                v.ports.insert((*k).to_string(), e);
            }
        }
        v
    }
}

impl Variables {
    /// An empty table (no defaults).
    pub fn empty() -> Self {
        Variables {
            addresses: BTreeMap::new(),
            ports: BTreeMap::new(),
        }
    }

    /// The defaults overlaid with a TOML file of the shape
    /// `[address-groups] HOME_NET = "[10.0.0.0/8]"` / `[port-groups] HTTP_PORTS = "[80,8080]"`.
    pub fn from_toml(text: &str) -> Result<Self, VarsError> {
        let file: VarsFile = toml::from_str(text)?;
        let mut v = Variables::default();
        for (k, val) in file.address_groups {
            v.set_address(&k, &val)?;
        }
        for (k, val) in file.port_groups {
            v.set_port(&k, &val)?;
        }
        Ok(v)
    }

    /// Defines or replaces an address variable.
    pub fn set_address(&mut self, name: &str, value: &str) -> Result<(), VarsError> {
        let e = AddressExpr::parse(value).ok_or_else(|| VarsError::BadValue {
            name: name.to_string(),
            value: value.to_string(),
        })?;
        self.addresses.insert(name.to_string(), e);
        Ok(())
    }

    /// Defines or replaces a port variable.
    pub fn set_port(&mut self, name: &str, value: &str) -> Result<(), VarsError> {
        let e = PortExpr::parse(value).ok_or_else(|| VarsError::BadValue {
            name: name.to_string(),
            value: value.to_string(),
        })?;
        self.ports.insert(name.to_string(), e);
        Ok(())
    }

    /// Replaces every variable in `expr` by its value. `Err(name)` names an undefined or
    /// self-referencing variable.
    pub fn resolve_address(&self, expr: &AddressExpr) -> Result<AddressExpr, String> {
        self.resolve_address_depth(expr, 0)
    }

    fn resolve_address_depth(
        &self,
        expr: &AddressExpr,
        depth: usize,
    ) -> Result<AddressExpr, String> {
        Ok(match expr {
            AddressExpr::Var(name) => {
                let value = self.addresses.get(name).ok_or_else(|| name.clone())?;
                if depth >= MAX_RESOLVE_DEPTH {
                    return Err(name.clone());
                }
                self.resolve_address_depth(value, depth + 1)?
            }
            AddressExpr::Group(items) => AddressExpr::Group(
                items
                    .iter()
                    .map(|i| self.resolve_address_depth(i, depth))
                    .collect::<Result<_, _>>()?,
            ),
            AddressExpr::Not(inner) => {
                AddressExpr::Not(Box::new(self.resolve_address_depth(inner, depth)?))
            }
            other => other.clone(),
        })
    }

    /// Replaces every variable in `expr` by its value.
    pub fn resolve_port(&self, expr: &PortExpr) -> Result<PortExpr, String> {
        self.resolve_port_depth(expr, 0)
    }

    fn resolve_port_depth(&self, expr: &PortExpr, depth: usize) -> Result<PortExpr, String> {
        Ok(match expr {
            PortExpr::Var(name) => {
                let value = self.ports.get(name).ok_or_else(|| name.clone())?;
                if depth >= MAX_RESOLVE_DEPTH {
                    return Err(name.clone());
                }
                self.resolve_port_depth(value, depth + 1)?
            }
            PortExpr::Group(items) => PortExpr::Group(
                items
                    .iter()
                    .map(|i| self.resolve_port_depth(i, depth))
                    .collect::<Result<_, _>>()?,
            ),
            PortExpr::Not(inner) => PortExpr::Not(Box::new(self.resolve_port_depth(inner, depth)?)),
            other => other.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_resolve_external_net_as_not_home() {
        let v = Variables::default();
        let ext = v
            .resolve_address(&AddressExpr::Var("EXTERNAL_NET".into()))
            .unwrap();
        assert!(ext.matches("8.8.8.8".parse().unwrap()));
        assert!(!ext.matches("192.168.1.1".parse().unwrap()));
        assert!(!ext.matches("fd00::1".parse().unwrap()));
        let fd = v
            .resolve_port(&PortExpr::Var("FILE_DATA_PORTS".into()))
            .unwrap();
        assert!(fd.matches(80) && fd.matches(143) && !fd.matches(8080));
    }

    #[test]
    fn toml_overrides_and_undefined_and_cycles() {
        let mut v = Variables::from_toml(
            "[address-groups]\nHOME_NET = \"[10.0.0.0/8]\"\n[port-groups]\nHTTP_PORTS = \"[80,8080]\"\n",
        )
        .unwrap();
        let home = v
            .resolve_address(&AddressExpr::Var("HOME_NET".into()))
            .unwrap();
        assert!(!home.matches("192.168.1.1".parse().unwrap()));
        assert_eq!(
            v.resolve_address(&AddressExpr::Var("NOPE".into())),
            Err("NOPE".into())
        );
        v.set_address("LOOP", "[$LOOP]").unwrap();
        assert_eq!(
            v.resolve_address(&AddressExpr::Var("LOOP".into())),
            Err("LOOP".into())
        );
        assert!(Variables::from_toml("[address-groups]\nX = \"nonsense!\"\n").is_err());
        assert!(Variables::from_toml("[bogus]\n").is_err());
    }
}

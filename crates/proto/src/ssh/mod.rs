//! SSH: identification banners, KEXINIT, HASSH and HASSH-server (Salesforce, BSD-3).

pub mod logger;
pub mod parser;
pub mod state;

pub use parser::{hassh, hassh_server, Banner, Hassh, KexInit};
pub use state::{SshParser, SshStats};

#[cfg(test)]
pub(crate) mod tests;

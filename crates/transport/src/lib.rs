//! picket-transport: how events get from agents to the manager without being lost or forged.
pub mod client;
pub mod delivery;
pub mod frame;
pub mod qubes_log;
pub mod server;
pub mod source;
pub mod spool;
pub mod stream;
pub mod tls;

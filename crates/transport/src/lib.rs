//! picket-transport: how events get from agents to the manager without being lost or forged.
pub mod delivery;
pub mod frame;
pub mod source;
pub mod spool;

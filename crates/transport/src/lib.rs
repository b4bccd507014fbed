//! picket-transport: how events get from agents to the manager without being lost or forged.
pub mod frame;

pub mod bench;
pub mod demo;
pub mod logtest;
pub mod sensor;

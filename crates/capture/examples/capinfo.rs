//! Count packets and bytes in captures, and print every read error:
//! `cargo run -p picket-capture --example capinfo -- FILE_OR_DIR...`

use picket_capture::{CaptureSet, PacketSource};
use std::collections::BTreeMap;

fn main() {
    let inputs: Vec<String> = std::env::args().skip(1).collect();
    let mut set = match CaptureSet::new(&inputs) {
        Ok(set) => set,
        Err(error) => {
            eprintln!("capinfo: {error}");
            std::process::exit(2);
        }
    };
    let mut link_types: BTreeMap<u32, u64> = BTreeMap::new();
    loop {
        match set.next_packet() {
            Ok(Some(packet)) => *link_types.entry(packet.link_type).or_default() += 1,
            Ok(None) => break,
            Err(error) => println!("error: {error}"),
        }
    }
    let stats = set.stats();
    println!(
        "files {} packets {} bytes {} errors {}",
        stats.files, stats.packets, stats.bytes, stats.errors
    );
    println!("link types: {link_types:?}");
}

//! Print the nft script for a policy file (the same as `picket fw compile`).
fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    match picket_firewall::Policy::load(std::path::Path::new(&path)) {
        Ok(p) => print!("{}", picket_firewall::compile_nft(&p).script),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1)
        }
    }
}

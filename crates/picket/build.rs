//! Embed picket's default ruleset (the repository's `rules/` directory) into the binary, so
//! `picket logtest` and `picket demo` work with no files installed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, root: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect(&path, root, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push((rel.to_string_lossy().replace('\\', "/"), path.clone()));
        }
    }
}

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest
        .join("../../rules")
        .canonicalize()
        .expect("the rules/ directory exists");
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    for sub in ["decoders", "rules", "lists", "samples"] {
        // A new file changes its directory's mtime, not the root's.
        println!("cargo:rerun-if-changed={}", root.join(sub).display());
        collect(&root.join(sub), &root, &mut files);
    }
    let mut code = String::from("/// picket's default ruleset and samples, embedded at build time.\npub static DEFAULT_RULESET: &[picket_hids::EmbeddedFile] = &[\n");
    for (rel, path) in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(
            code,
            "    picket_hids::EmbeddedFile {{ path: {rel:?}, contents: include_str!({:?}) }},",
            path.display().to_string()
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("embedded_rules.rs");
    std::fs::write(out, code).expect("write embedded_rules.rs");
}

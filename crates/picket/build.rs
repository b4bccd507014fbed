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

/// Link `picket-agent` with packed relative relocations (DT_RELR) where the C library it
/// links against can load them (glibc 2.36 and later name the version `GLIBC_ABI_DT_RELR`):
/// its relocation tables shrink from 107 KiB to 5 KiB, and the dynamic loader, which reads
/// all of it at start, no longer leaves those pages resident in every qube's idle agent.
/// Elsewhere the agent links as before.
fn pack_agent_relocations() {
    let linux_gnu = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux")
        && std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|env| env == "gnu");
    if !linux_gnu {
        return;
    }
    // `cc` is the linker rustc runs for this target unless configured otherwise.
    let Ok(out) = std::process::Command::new("cc")
        .arg("-print-file-name=libc.so.6")
        .output()
    else {
        return;
    };
    let libc = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let Ok(bytes) = std::fs::read(&libc) else {
        return;
    };
    let version = b"GLIBC_ABI_DT_RELR";
    if bytes.windows(version.len()).any(|w| w == version) {
        println!("cargo:rustc-link-arg-bin=picket-agent=-Wl,-z,pack-relative-relocs");
    }
}

fn main() {
    pack_agent_relocations();
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

//! Golden tests: every `golden/NAME.toml` compiles to exactly `NAME.nft` and `NAME.qubes`, and
//! every `golden/errors/NAME.toml` fails with exactly the message in `NAME.err` (which names
//! the file, the line and the key). `PICKET_BLESS=1` rewrites the expected files.
//! As root, each `.nft` is also checked by `nft -c -f`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use picket_firewall::{compile_nft, compile_qubes, Policy};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn tomls(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

fn expect(path: &Path, actual: &str, failures: &mut Vec<String>) {
    if std::env::var_os("PICKET_BLESS").is_some() {
        std::fs::write(path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "{} differs:\n{}",
            path.display(),
            picket_firewall::listing::line_diff(&expected, actual)
        ));
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn policies_compile_to_their_golden_scripts() {
    let mut failures = Vec::new();
    let files = tomls(&dir());
    assert!(files.len() >= 4);
    let check_with_nft = is_root()
        && std::process::Command::new("nft")
            .arg("--version")
            .output()
            .is_ok();
    if !check_with_nft {
        println!("skip: nft -c checks of the golden scripts need root and nft");
    }
    for toml in files {
        let name = toml.file_name().unwrap().to_string_lossy().to_string();
        let policy = Policy::load(&toml).unwrap_or_else(|e| panic!("{e}"));
        let nft = compile_nft(&policy).script;
        expect(&toml.with_extension("nft"), &nft, &mut failures);
        expect(
            &toml.with_extension("qubes"),
            &compile_qubes(&policy),
            &mut failures,
        );
        if check_with_nft {
            let out = std::process::Command::new("nft")
                .args(["-c", "-f"])
                .arg(toml.with_extension("nft"))
                .output()
                .unwrap();
            if !out.status.success() {
                failures.push(format!(
                    "{name}: nft -c: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn bad_policies_fail_with_file_line_and_key() {
    let mut failures = Vec::new();
    let files = tomls(&dir().join("errors"));
    assert!(files.len() >= 5);
    for toml in files {
        let text = std::fs::read_to_string(&toml).unwrap();
        let name = toml.file_name().unwrap().to_string_lossy().to_string();
        let err = Policy::from_str(&text, &name).expect_err(&name);
        expect(
            &toml.with_extension("err"),
            &format!("{err}\n"),
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! ARCHITECTURE.md's code map names every source file, so it cannot drift silently: a file
//! added, moved or renamed without the map fails here, naming the file.
//!
//! A file is named by its file name (`capacity.rs`), a `mod.rs` by its directory (`decide/`);
//! `lib.rs`, `main.rs` and `tests.rs` are conventions the map describes once.

use std::fs;
use std::path::{Path, PathBuf};

/// The directories whose `.rs` files the map must name, relative to the repository.
const SOURCE_DIRS: &[&str] = &["src", "benches", "fuzz_targets"];

/// File names every crate has, described once in the map rather than per crate.
const CONVENTIONS: &[&str] = &["lib.rs", "main.rs", "tests.rs"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test bed lives one level below the repository")
        .to_path_buf()
}

/// Every `.rs` file below `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source files of every top-level package (a directory with a `Cargo.toml`).
fn source_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut packages: Vec<PathBuf> = fs::read_dir(root)
        .expect("the repository is readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file() && p != root)
        .collect();
    packages.sort();
    for package in packages {
        if package.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        for dir in SOURCE_DIRS {
            rust_files(&package.join(dir), &mut files);
        }
    }
    files.sort();
    files
}

/// How the map names `file`, or `None` for a conventional name.
fn map_name(file: &Path) -> Option<String> {
    let name = file.file_name()?.to_str()?;
    if name == "mod.rs" {
        let dir = file.parent()?.file_name()?.to_str()?;
        return Some(format!("{dir}/"));
    }
    (!CONVENTIONS.contains(&name)).then(|| name.to_string())
}

#[test]
fn every_source_file_is_in_the_code_map() {
    let root = repository();
    let map = fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md exists");
    let files = source_files(&root);
    assert!(
        files.len() > 100,
        "found only {} source files under {}: the walk is wrong",
        files.len(),
        root.display()
    );
    let missing: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let name = map_name(f)?;
            (!map.contains(&name)).then(|| {
                format!(
                    "{} (as `{name}`)",
                    f.strip_prefix(&root).unwrap_or(f).display()
                )
            })
        })
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's code map does not name:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn a_file_the_map_does_not_name_is_reported() {
    let map = "`capacity.rs` and `decide/`";
    for (file, named) in [
        ("planner/src/decide/capacity.rs", true),
        ("planner/src/decide/mod.rs", true),
        ("planner/src/decide/packing.rs", false),
        ("planner/src/lib.rs", true),
    ] {
        let shown = map_name(Path::new(file)).is_none_or(|n| map.contains(&n));
        assert_eq!(shown, named, "{file}");
    }
}

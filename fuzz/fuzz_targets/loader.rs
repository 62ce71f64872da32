//! The cluster-definition loader on arbitrary text: never panics; every error names the
//! file and has a position or a field path; a file that loads has valid bounds.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A few variables so `%(VAR)` paths are exercised both ways.
    let env = |name: &str| match name {
        "USER" => Some("guest".to_string()),
        "PASSWORD" => Some("p%(x)w".to_string()),
        _ => None,
    };
    match shared::definition::parse_definition("fuzz", Path::new("fuzz.yml"), text, &env) {
        Ok(def) => {
            if let (Some(min), Some(max)) = (def.min, def.max) {
                assert!(min <= max);
            }
            for s in &def.services {
                assert!(s.min <= s.max);
            }
        }
        Err(file) => {
            assert!(!file.errors.is_empty());
            for e in &file.errors {
                assert_eq!(e.file, Path::new("fuzz.yml"));
                assert!(e.position.is_some() || !e.path.is_empty() || !e.message.is_empty());
            }
        }
    }
});

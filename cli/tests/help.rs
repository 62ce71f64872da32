//! Every flag `cli/README.md` documents for a command is in that command's `--help`.

use std::path::Path;
use std::process::Command;

fn help(subcommand: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ecs-autoscale"))
        .args([subcommand, "--help"])
        .output()
        .expect("run ecs-autoscale");
    assert_eq!(out.status.code(), Some(0), "{subcommand} --help");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The flags (`--name`) in `text`.
fn flags(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("--") {
        let name: String = rest[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if !name.is_empty() {
            out.push(format!("--{name}"));
        }
        rest = &rest[i + 2 + name.len()..];
    }
    out
}

#[test]
fn every_documented_flag_is_in_the_help_of_its_command() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("cli/README.md");
    let mut commands = 0;
    for line in readme.lines() {
        let Some(row) = line.strip_prefix("| `ecs-autoscale ") else {
            continue;
        };
        let Some((usage, _)) = row.split_once("` |") else {
            continue;
        };
        let subcommand = usage.split_whitespace().next().unwrap_or_default();
        let text = help(subcommand);
        let documented = flags(usage);
        assert!(!documented.is_empty(), "{usage}");
        for flag in documented {
            assert!(
                flags(&text).contains(&flag),
                "`{subcommand} --help` lacks `{flag}`:\n{text}"
            );
        }
        commands += 1;
    }
    assert_eq!(commands, 7, "the README's command table has seven rows");
}

#[test]
fn the_metrics_queue_flag_keeps_its_short_name() {
    let text = help("inject");
    assert!(text.contains("--metrics-queue-url <URL>"), "{text}");
    assert!(text.contains("--queue-url"), "{text}");
}

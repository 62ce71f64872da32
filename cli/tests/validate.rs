//! `ecs-autoscale validate` as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecs-autoscale"));
    cmd.env_remove("RUST_LOG").env_remove("LOG_LEVEL");
    cmd
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(args: &[&str], dir: &Path) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run ecs-autoscale")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn accepts_the_original_example() {
    let out = run(&["validate", "clusters/"], &repo());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains("ok my_cluster"), "{text}");
    assert!(
        text.contains("EC2ContainerService-my_cluster-EcsInstanceAsg-AAAAA"),
        "{text}"
    );
}

#[test]
fn defaults_to_the_clusters_directory() {
    let out = run(&["validate"], &repo());
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("ok my_cluster"));
}

#[test]
fn rejects_an_injected_expression_with_file_line_and_column() {
    let dir = tempdir("injected");
    let text = std::fs::read_to_string(repo().join("clusters/my_cluster.yml")).unwrap();
    let bad = text.replacen(
        "- metric: queue_length  # Name of metric to use.",
        "- metric: __import__('os').system('id')",
        1,
    );
    assert_ne!(bad, text, "the example changed; update this test");
    let file = dir.join("evil.yml");
    std::fs::write(&file, bad).unwrap();
    let out = run(&["validate", file.to_str().unwrap()], &dir);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    // The first event of `worker` is on line 44; its `metric:` value starts at column 17.
    assert!(
        text.contains("evil.yml:44:17: services.worker.events[0].metric: invalid expression"),
        "{text}"
    );
    assert!(text.contains("__import__"), "{text}");
}

#[test]
fn one_bad_file_does_not_hide_the_good_ones() {
    let dir = tempdir("mixed");
    std::fs::copy(repo().join("clusters/my_cluster.yml"), dir.join("good.yml")).unwrap();
    std::fs::write(dir.join("bad.yaml"), "autoscale_group: g\nservces: {}\n").unwrap();
    let out = run(&["validate", "."], &dir);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("ok good"), "{text}");
    assert!(
        text.contains("bad.yaml:2:1: servces: unknown key `servces`; did you mean `services`?"),
        "{text}"
    );
}

#[test]
fn json_output_parses() {
    let out = run(&["validate", "--json", "clusters"], &repo());
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["valid"][0]["cluster"], "my_cluster");
    assert_eq!(v["errors"].as_array().map(Vec::len), Some(0));
}

#[test]
fn missing_path_is_a_clear_failure() {
    let out = run(&["validate", "no/such/dir"], &repo());
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`no/such/dir` does not exist"));
}

/// A scratch directory removed when the test ends.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tempdir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("ecs-autoscale-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    TempDir(dir)
}

#[test]
fn unset_variables_are_errors_unless_allowed() {
    let dir = tempdir("vars");
    let text = std::fs::read_to_string(repo().join("clusters/my_cluster.yml")).unwrap();
    let with_vars = text.replacen(
        "https://username:password@",
        "https://%(ECS_AUTOSCALE_TEST_USER):%(ECS_AUTOSCALE_TEST_PASS)@",
        1,
    );
    assert_ne!(with_vars, text, "the example changed; update this test");
    let file = dir.join("vars.yml");
    std::fs::write(&file, with_vars).unwrap();
    let path = file.to_str().unwrap();

    let strict = run(&["validate", path], &dir);
    assert_eq!(strict.status.code(), Some(1));
    let text = stdout(&strict);
    assert!(
        text.contains("environment variable `ECS_AUTOSCALE_TEST_USER` is not set"),
        "{text}"
    );

    let lenient = run(&["validate", "--allow-unset-vars", path], &dir);
    assert_eq!(lenient.status.code(), Some(0), "{}", stdout(&lenient));
    let notes = String::from_utf8_lossy(&lenient.stderr);
    assert!(
        notes.contains("note: `%(ECS_AUTOSCALE_TEST_PASS)` is not set here"),
        "{notes}"
    );
}

#[test]
fn url_passwords_never_show_in_the_output() {
    let dir = tempdir("url-passwords");
    let text = std::fs::read_to_string(repo().join("clusters/my_cluster.yml")).unwrap();
    let with_var = text.replacen(
        "https://username:password@my_rabbitmq_host.com/api/queues/celery",
        "https://monitor:%(ECS_AUTOSCALE_TEST_PASS)@rabbit:15672/api/queues/%2F/celery?api_key=K3Y",
        1,
    );
    assert_ne!(with_var, text, "the example changed; update this test");
    let file = dir.join("secret.yml");
    std::fs::write(&file, with_var).unwrap();
    let path = file.to_str().unwrap();
    // A password with a reserved character makes the URL invalid (or ambiguous): the error
    // names the position and the redacted URL, never the password.
    for password in ["pa/ss", "p#w", "p?w", "12/ss", "p?w/x#y"] {
        for json in [false, true] {
            let mut cmd = bin();
            cmd.arg("validate")
                .args(json.then_some("--json"))
                .arg(path)
                .env("ECS_AUTOSCALE_TEST_PASS", password);
            let out = cmd.current_dir(&*dir).output().expect("run ecs-autoscale");
            assert_eq!(out.status.code(), Some(1), "{password}");
            let all = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
            for secret in [password, "monitor", "K3Y"] {
                assert!(!all.contains(secret), "`{secret}` shown:\n{all}");
            }
            assert!(
                all.contains("https://***@rabbit:15672/api/queues/%2F/celery?***"),
                "{all}"
            );
            if json {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
                assert_eq!(
                    v["errors"][0]["path"], "services.worker.metric_sources.third_party[0].url",
                    "{all}"
                );
            } else {
                assert!(
                    all.contains(
                        "secret.yml:32:16: services.worker.metric_sources.third_party[0].url: "
                    ),
                    "{all}"
                );
            }
        }
    }
}

/// The expectation a corpus file states on its first line: `# expect: TEXT` (UTF-16 files
/// state it in UTF-16).
fn expectation(bytes: &[u8]) -> String {
    let text = match bytes {
        [0xFF, 0xFE, rest @ ..] => String::from_utf16_lossy(
            &rest
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
        ),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    };
    let first = text.lines().next().unwrap_or_default();
    first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("no `# expect:` line: {first}"))
        .to_owned()
}

/// `tests/corpus/clusters/`: hostile cluster files, each with the error it must give on its
/// first line, plus what cannot be committed or is large, made here: 42 KB of nested lists
/// and of nested mappings, a symbolic link loop, a dangling link, a directory named
/// `x.yml`, an upper-case `X.YML`, a file over the size limit. `validate` reports every one
/// of them (exit 1), each error on a line naming its file, and loads none.
#[test]
fn every_hostile_file_of_the_corpus_is_an_error_naming_it() {
    let corpus = repo().join("tests/corpus/clusters");
    let dir = tempdir("corpus");
    let mut expected: Vec<(String, String)> = Vec::new();
    for entry in std::fs::read_dir(&corpus).expect("the corpus") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).expect("a corpus file");
        expected.push((name.clone(), expectation(&bytes)));
        std::fs::write(dir.join(&name), bytes).unwrap();
    }
    assert!(expected.len() >= 20, "{expected:?}");
    let generated = [
        (
            "nested_lists_42kb.yml",
            format!("{}x\n", "- ".repeat(21_000)),
        ),
        (
            "nested_mappings_42kb.yml",
            format!("{}x\n", "? ".repeat(21_000)),
        ),
        ("X.YML", "autoscale_group: g\n".to_owned()),
        (
            "too_large.yml",
            format!(
                "autoscale_group: g\n#{}\n",
                "x".repeat(shared::definition::MAX_FILE_BYTES as usize)
            ),
        ),
    ];
    for (name, text) in &generated {
        std::fs::write(dir.join(name), text).unwrap();
    }
    expected.extend([
        (
            "nested_lists_42kb.yml".into(),
            "1:129: invalid YAML: lists and mappings nest more than 64 levels deep here".into(),
        ),
        (
            "nested_mappings_42kb.yml".into(),
            "1:129: invalid YAML: lists and mappings nest more than 64 levels deep here".into(),
        ),
        (
            "X.YML".into(),
            "cluster files end in `.yml` or `.yaml` in lower case; rename it `X.yml`".into(),
        ),
        (
            "too_large.yml".into(),
            "the file is larger than 1048576 bytes (1 MiB), the limit of a cluster file".into(),
        ),
        (
            "a_directory.yml".into(),
            "a directory named like a cluster file".into(),
        ),
        (
            "loop.yml".into(),
            "a symbolic link that leads to no file".into(),
        ),
        (
            "dangling.yaml".into(),
            "a symbolic link that leads to no file".into(),
        ),
    ]);
    std::fs::create_dir(dir.join("a_directory.yml")).unwrap();
    std::os::unix::fs::symlink("loop.yml", dir.join("loop.yml")).unwrap();
    std::os::unix::fs::symlink("missing.yml", dir.join("dangling.yaml")).unwrap();

    for extra in [&[][..], &["--allow-unset-vars"][..]] {
        let out = run(&[&["validate", "."][..], extra].concat(), &dir);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        let text = stdout(&out);
        assert!(
            !text.lines().any(|l| l.starts_with("ok ")),
            "a hostile file loaded:\n{text}"
        );
        for (name, expect) in &expected {
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&format!("./{name}")) && l.contains(expect.as_str())),
                "{name}: no line with `{expect}` in:\n{text}"
            );
        }
        // One line per error, whatever the file held: no value breaks a line.
        for line in text.lines() {
            assert!(
                line.starts_with("./"),
                "a line not naming its file: {line:?}"
            );
            assert!(line.chars().count() < 600, "a line too long: {line:.80}…");
        }
    }
}

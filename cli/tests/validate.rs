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

//! No emulator at `AWS_ENDPOINT_URL`: every command says so clearly, exit code 3.

use std::net::TcpListener;

use crate::support::*;

#[tokio::test]
async fn every_command_explains_an_unreachable_endpoint() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let dir = repo().join("clusters");
    let dir = s(&dir);
    let commands: [&[&str]; 4] = [
        &[
            "plan",
            "--cluster",
            CLUSTER,
            "--clusters-dir",
            dir,
            "--set",
            "queue_length=1",
        ],
        &[
            "inject",
            "--cluster",
            CLUSTER,
            "--service",
            "worker",
            "queue_length=1",
            "--clusters-dir",
            dir,
        ],
        &["watch", "--timeout", "1"],
        &[
            "run",
            "--cycles",
            "1",
            "--clusters-dir",
            dir,
            "--metrics-queue-url",
            "http://x/1/m",
            "--plans-queue-url",
            "http://x/1/p.fifo",
        ],
    ];
    for args in commands {
        let out = run(&endpoint, args).await;
        assert_code(&out, 3);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("error: cannot reach AWS at {endpoint}")),
            "{args:?}: {err}"
        );
        assert!(err.contains("hint: "), "{err}");
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[tokio::test]
async fn an_endpoint_with_credentials_is_shown_redacted() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for endpoint in [
        format!("http://admin:s3cret@127.0.0.1:{port}"),
        format!("http://admin:s3/cret@127.0.0.1:{port}"),
    ] {
        let out = run(&endpoint, &["watch", "--timeout", "1"]).await;
        assert_code(&out, 3);
        let err = stderr(&out);
        assert!(!err.contains("s3cret") && !err.contains("s3/cret"), "{err}");
        assert!(!err.contains("admin"), "{err}");
        assert!(err.contains("error: "), "{err}");
        assert!(err.contains("***@127.0.0.1"), "{err}");
    }
}

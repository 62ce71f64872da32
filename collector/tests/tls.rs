//! The functions' one TLS stack (rustls on ring, `shared::aws::tls`) in a real handshake: an
//! HTTPS server on 127.0.0.1 whose self-signed certificate no client trusts. Both clients — the
//! AWS SDK's (every function's) and the HTTP source's reqwest — must reach the server, verify
//! its certificate and refuse it with an error that says so, never panic for want of a crypto
//! provider nor connect to an untrusted server.

mod support;

use std::time::Duration;

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::retry::RetryConfig;
use collector::cycle;
use shared::function_config::Env;
use shared::messages::MissingReason;
use support::defs::{self, HEAD};
use testbed::TlsServer;

/// Whether an error's text shows that the certificate was checked and refused.
fn refused_certificate(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("certificate") || text.contains("unknownissuer")
}

#[tokio::test]
async fn the_aws_clients_refuse_an_untrusted_certificate() {
    let server = TlsServer::start().await;
    let url = server.url("");
    let lookup = |name: &str| match name {
        "AWS_REGION" => Some("us-east-1".to_owned()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("testing".to_owned()),
        "AWS_ENDPOINT_URL" => Some(url.clone()),
        _ => None,
    };
    let config = shared::aws::function_config(&Env::new(&lookup))
        .expect("complete")
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .build();
    let sqs = aws_sdk_sqs::Client::new(&config);
    let error = tokio::time::timeout(Duration::from_secs(20), sqs.list_queues().send())
        .await
        .expect("answered within 20 s")
        .expect_err("an untrusted server");
    let text = DisplayErrorContext(&error).to_string();
    assert!(refused_certificate(&text), "{text}");
    assert!(server.connections() >= 1, "the client reached the server");
}

#[tokio::test]
async fn the_http_source_refuses_an_untrusted_certificate() {
    let server = TlsServer::start().await;
    let text = format!(
        "{HEAD}services:\n  web:\n    enabled: true\n    min: 1\n    max: 3\n    events: []\n    metric_sources:\n      third_party:\n        - url: \"{}\"\n          statistics:\n            - name: messages\n              alias: backlog\n",
        server.url("/api/queues")
    );
    let def = defs::cluster("web", &text, &[]);
    let sources = defs::sources(defs::unused_cloudwatch());
    let mut reports =
        cycle::collect(&[&def], &defs::cycle(Duration::from_secs(10)), &sources).await;
    assert_eq!(reports.len(), 1);
    let report = reports.remove(0);
    let web = &report.services["web"];
    match web.missing.get("backlog") {
        Some(MissingReason::Request { error }) => {
            assert!(refused_certificate(error), "{error}");
        }
        other => panic!("expected a request error naming the certificate, got {other:?}"),
    }
    assert!(server.connections() >= 1, "the client reached the server");
}

//! Batch decoding: SQS records read as metrics reports and grouped by cluster, or rejected.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::SqsMessage;
use shared::messages::{
    report_from_body, DecodeError, MetricsReport, ReportBodyError, METRICS_REPORT_DETAIL_TYPE,
};

/// Why a record is rejected (reported as a batch item failure).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The record has no body.
    #[error("the message has no body")]
    NoBody,
    /// The body is not a metrics report.
    #[error(transparent)]
    Undecodable(#[from] DecodeError),
    /// An EventBridge envelope of another kind of event.
    #[error("an EventBridge event of detail-type `{0}`, expected `{METRICS_REPORT_DETAIL_TYPE}`")]
    WrongDetailType(String),
    /// No loaded definition for the report's cluster.
    #[error("no cluster definition `{0}` is loaded")]
    UnknownCluster(String),
}

/// Reads a record body: a metrics report, or an EventBridge event whose `detail` is one
/// ([`report_from_body`]).
pub fn decode_body(body: &str) -> Result<MetricsReport, RecordError> {
    report_from_body(body).map_err(|e| match e {
        ReportBodyError::Undecodable(e) => RecordError::Undecodable(e),
        ReportBodyError::WrongDetailType(kind) => RecordError::WrongDetailType(kind),
    })
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The SQS message id.
    pub message_id: String,
    /// Its report.
    pub report: MetricsReport,
}

/// A record that is reported as a batch item failure.
#[derive(Debug)]
pub struct Rejected {
    /// The SQS message id.
    pub message_id: String,
    /// Why.
    pub error: RecordError,
}

/// A batch sorted by cluster.
#[derive(Debug, Default)]
pub struct Batch {
    /// Decoded reports of known clusters, by cluster name, in batch order.
    pub clusters: BTreeMap<String, Vec<Accepted>>,
    /// Records that are failures.
    pub rejected: Vec<Rejected>,
}

/// Decodes every record and groups the reports by cluster; reports for clusters `is_known`
/// rejects become [`RecordError::UnknownCluster`].
pub fn sort_batch(records: &[SqsMessage], is_known: &dyn Fn(&str) -> bool) -> Batch {
    let mut batch = Batch::default();
    for record in records {
        // Lambda always sets the id; an empty identifier in the response fails the whole
        // batch, which is the safe outcome for a record we cannot name.
        let message_id = record.message_id.clone().unwrap_or_default();
        let decoded = record
            .body
            .as_deref()
            .ok_or(RecordError::NoBody)
            .and_then(decode_body)
            .and_then(|report| {
                if is_known(&report.cluster) {
                    Ok(report)
                } else {
                    Err(RecordError::UnknownCluster(report.cluster))
                }
            });
        match decoded {
            Ok(report) => batch
                .clusters
                .entry(report.cluster.clone())
                .or_default()
                .push(Accepted { message_id, report }),
            Err(error) => batch.rejected.push(Rejected { message_id, error }),
        }
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_json(cluster: &str, cycle: &str) -> serde_json::Value {
        serde_json::json!({
            "schema_version": 1,
            "cluster": cluster,
            "cycle_id": cycle,
            "collected_at": "2026-11-29T10:00:00Z",
            "services": {"web": {"values": {"queue": 5.0}}}
        })
    }

    fn message(id: &str, body: Option<String>) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.to_owned());
        m.body = body;
        m
    }

    #[test]
    fn decodes_a_bare_report() {
        let r = decode_body(&report_json("prod", "c1").to_string()).expect("report");
        assert_eq!((r.cluster.as_str(), r.cycle_id.as_str()), ("prod", "c1"));
        assert_eq!(r.origin, "collector");
    }

    #[test]
    fn decodes_a_report_wrapped_in_an_eventbridge_envelope() {
        let mut detail = report_json("prod", "s1");
        detail["origin"] = "synthetic".into();
        let envelope = serde_json::json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "Metrics Report",
            "source": "ecs-autoscale.synthetic",
            "time": "2026-11-29T10:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": detail,
        });
        let r = decode_body(&envelope.to_string()).expect("report");
        assert_eq!(
            (r.cluster.as_str(), r.origin.as_str()),
            ("prod", "synthetic")
        );
    }

    #[test]
    fn rejects_junk_other_events_and_other_versions() {
        assert!(matches!(
            decode_body("not json"),
            Err(RecordError::Undecodable(_))
        ));
        assert!(matches!(
            decode_body("{}"),
            Err(RecordError::Undecodable(_))
        ));
        let other = serde_json::json!({"detail-type": "Scaling Plan", "detail": {}});
        assert!(matches!(
            decode_body(&other.to_string()),
            Err(RecordError::WrongDetailType(t)) if t == "Scaling Plan"
        ));
        let bad_detail = serde_json::json!({"detail-type": "Metrics Report", "detail": {"x": 1}});
        assert!(matches!(
            decode_body(&bad_detail.to_string()),
            Err(RecordError::Undecodable(_))
        ));
        let mut v2 = report_json("prod", "c1");
        v2["schema_version"] = 2.into();
        let err = decode_body(&v2.to_string()).expect_err("version 2");
        assert!(err.to_string().contains("schema_version 2"), "{err}");
    }

    #[test]
    fn a_report_with_an_invalid_time_is_rejected_naming_the_field() {
        for bad in ["2025-02-31T00:00:00Z", "not a time", "2025-11-29T10:00:00"] {
            let mut report = report_json("prod", "c1");
            report["collected_at"] = bad.into();
            let records = vec![
                message("m1", Some(report.to_string())),
                message("m2", Some(report_json("prod", "c2").to_string())),
            ];
            let batch = sort_batch(&records, &|_| true);
            assert_eq!(batch.clusters["prod"].len(), 1, "the other record is kept");
            assert_eq!(batch.rejected.len(), 1);
            let rejected = &batch.rejected[0];
            assert_eq!(rejected.message_id, "m1");
            assert!(
                matches!(&rejected.error, RecordError::Undecodable(_)),
                "{:?}",
                rejected.error
            );
            let text = rejected.error.to_string();
            assert!(
                text.starts_with("not a valid metrics report: collected_at: "),
                "{text}"
            );
        }
    }

    #[test]
    fn sorts_a_batch_by_cluster_and_rejects_the_rest() {
        let records = vec![
            message("m1", Some(report_json("prod", "c1").to_string())),
            message("m2", Some("{oops".to_owned())),
            message("m3", Some(report_json("staging", "c1").to_string())),
            message("m4", Some(report_json("prod", "c2").to_string())),
            message("m5", None),
            message("m6", Some(report_json("ghost", "c1").to_string())),
        ];
        let batch = sort_batch(&records, &|c| c == "prod" || c == "staging");
        let ids = |c: &str| -> Vec<String> {
            batch.clusters[c]
                .iter()
                .map(|a| a.message_id.clone())
                .collect()
        };
        assert_eq!(ids("prod"), ["m1", "m4"]);
        assert_eq!(ids("staging"), ["m3"]);
        let rejected: Vec<(&str, String)> = batch
            .rejected
            .iter()
            .map(|r| (r.message_id.as_str(), r.error.to_string()))
            .collect();
        assert_eq!(rejected.len(), 3);
        assert_eq!(rejected[0].0, "m2");
        assert!(
            rejected[0].1.starts_with("not a valid metrics report"),
            "{}",
            rejected[0].1
        );
        assert_eq!(rejected[1], ("m5", "the message has no body".to_owned()));
        assert_eq!(
            rejected[2],
            ("m6", "no cluster definition `ghost` is loaded".to_owned())
        );
    }
}

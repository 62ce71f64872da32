//! A metrics report as an SQS message body carries it: bare (the collector's), or as the
//! `detail` of an EventBridge event (a synthetic report a bus rule sent to a queue).

use super::{DecodeError, MetricsReport, METRICS_REPORT_DETAIL_TYPE};

/// Why a message body is not a metrics report.
#[derive(Debug, thiserror::Error)]
pub enum ReportBodyError {
    /// Not a metrics report (or one of another version).
    #[error(transparent)]
    Undecodable(#[from] DecodeError),
    /// An EventBridge envelope of another kind of event.
    #[error("an EventBridge event of detail-type `{0}`, expected `{METRICS_REPORT_DETAIL_TYPE}`")]
    WrongDetailType(String),
}

/// Reads a message body: a metrics report, or an EventBridge event whose `detail` is one.
pub fn report_from_body(body: &str) -> Result<MetricsReport, ReportBodyError> {
    // An envelope is recognised by its `detail-type` and `detail` keys; anything else is read
    // as a bare report, so that its decoding error is about the report.
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_str(body) {
        if let (Some(kind), Some(detail)) = (object.get("detail-type"), object.get("detail")) {
            let kind = kind.as_str().unwrap_or_default();
            if kind != METRICS_REPORT_DETAIL_TYPE {
                return Err(ReportBodyError::WrongDetailType(kind.to_owned()));
            }
            return Ok(MetricsReport::from_json(&detail.to_string())?);
        }
    }
    Ok(MetricsReport::from_json(body)?)
}

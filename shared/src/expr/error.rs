//! The two ways an expression can fail: when it is loaded, and when it is evaluated.

/// Why an expression was rejected when parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    /// 1-based position, in characters, within the expression text.
    pub column: usize,
    /// What is wrong, for the person who wrote the expression.
    pub message: String,
}

impl ParseError {
    pub(super) fn new(column: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            column,
            message: message.into(),
        }
    }
}

/// Why a parsed expression produced no value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EvalError {
    /// The lookup returned `None` for this alias.
    #[error("metric `{0}` has no value")]
    MissingMetric(String),
    /// `/`, `//` or `%` by zero, or zero raised to a negative power.
    #[error("division by zero")]
    DivisionByZero,
    /// A metric value, an intermediate or the result is NaN or infinite: an overflow,
    /// a negative number raised to a fractional power, or a non-finite metric value.
    #[error("the result is not a finite number (an overflow, a negative number raised to a fractional power, or a metric that is NaN or infinite)")]
    NonFinite,
    /// A function was given an argument outside its domain: the square root of a negative
    /// number, or a `round` whose `ndigits` (the `value` here) is not a whole number.
    #[error("`{function}` is not defined for {value}")]
    Domain { function: &'static str, value: f64 },
}

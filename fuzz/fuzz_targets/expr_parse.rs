//! Parses arbitrary text as a metric expression. Whatever the input, parsing must not
//! panic; when it succeeds, evaluation must give a finite value or an error, and the
//! canonical printing must parse back to the same tree.

#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::expr::Expr;

/// Values for a few names, including ones arithmetic trips over; every other alias is a
/// missing metric.
fn lookup(name: &str) -> Option<f64> {
    match name {
        "a" => Some(2.0),
        "b" => Some(-0.5),
        "zero" => Some(0.0),
        "big" => Some(1e300),
        "tiny" => Some(5e-324),
        "nan" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(expr) = Expr::parse(source) else {
        return;
    };
    if let Ok(value) = expr.eval(lookup) {
        assert!(value.is_finite(), "`{source}` evaluated to {value}");
    }
    let printed = expr.to_string();
    // The printing spaces its operators, so a long input can print past the input length
    // limit (a limit on what users write, not on what we print); such a printing is not
    // expected to parse again.
    if printed.chars().count() > shared::expr::MAX_LENGTH {
        return;
    }
    match Expr::parse(&printed) {
        Ok(reparsed) => assert_eq!(reparsed, expr, "`{source}` printed as `{printed}`"),
        Err(error) => panic!("`{source}` printed as `{printed}`, which does not parse: {error}"),
    }
});

//! Evaluation with Python's arithmetic on floats.
//!
//! Every value is checked to be finite as soon as it exists, so an overflow or a NaN metric
//! is reported where it arises instead of poisoning a scaling decision.

use super::ast::{Ast, BinaryOp, Function, MinMax, UnaryOp};
use super::error::EvalError;

pub(super) fn eval(ast: &Ast, lookup: &dyn Fn(&str) -> Option<f64>) -> Result<f64, EvalError> {
    let value = match ast {
        Ast::Number(value) => *value,
        Ast::Alias(name) => lookup(name).ok_or_else(|| EvalError::MissingMetric(name.clone()))?,
        Ast::Unary { op, operand } => {
            let value = eval(operand, lookup)?;
            match op {
                UnaryOp::Neg => -value,
                UnaryOp::Pos => value,
            }
        }
        Ast::Binary { op, left, right } => binary(*op, eval(left, lookup)?, eval(right, lookup)?)?,
        Ast::Call { function, argument } => {
            let value = eval(argument, lookup)?;
            match function {
                Function::Abs => value.abs(),
                Function::Ceil => value.ceil(),
                Function::Floor => value.floor(),
                // `-0.0` is not negative: Python's `math.sqrt(-0.0)` is `-0.0`.
                Function::Sqrt if value < 0.0 => {
                    return Err(EvalError::Domain {
                        function: "sqrt",
                        value,
                    })
                }
                Function::Sqrt => value.sqrt(),
            }
        }
        Ast::Round { value, ndigits } => {
            let value = eval(value, lookup)?;
            match ndigits {
                None => value.round_ties_even(),
                Some(ndigits) => round_to(value, whole_ndigits(eval(ndigits, lookup)?)?),
            }
        }
        Ast::MinMax {
            function,
            first,
            rest,
            ..
        } => {
            let mut best = eval(first, lookup)?;
            for value in rest {
                let value = eval(value, lookup)?;
                // Strict comparisons keep the first of equal values, as Python does
                // (it matters only for `0.0` versus `-0.0`).
                let better = match function {
                    MinMax::Min => value < best,
                    MinMax::Max => value > best,
                };
                if better {
                    best = value;
                }
            }
            best
        }
    };
    finite(value)
}

fn finite(value: f64) -> Result<f64, EvalError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(EvalError::NonFinite)
    }
}

fn binary(op: BinaryOp, left: f64, right: f64) -> Result<f64, EvalError> {
    let divides = matches!(op, BinaryOp::Div | BinaryOp::FloorDiv | BinaryOp::Mod);
    if divides && right == 0.0 {
        return Err(EvalError::DivisionByZero);
    }
    Ok(match op {
        BinaryOp::Add => left + right,
        BinaryOp::Sub => left - right,
        BinaryOp::Mul => left * right,
        BinaryOp::Div => left / right,
        BinaryOp::FloorDiv => floor_div(left, right),
        BinaryOp::Mod => modulo(left, right),
        // Python raises ZeroDivisionError here where `powf` would give infinity.
        BinaryOp::Pow if left == 0.0 && right < 0.0 => return Err(EvalError::DivisionByZero),
        BinaryOp::Pow => left.powf(right),
    })
}

/// Python's `%` on floats: the result has the sign of the divisor. `divisor` is non-zero.
fn modulo(dividend: f64, divisor: f64) -> f64 {
    let remainder = dividend % divisor;
    if remainder == 0.0 {
        0.0_f64.copysign(divisor)
    } else if (remainder < 0.0) != (divisor < 0.0) {
        remainder + divisor
    } else {
        remainder
    }
}

/// Python's `//` on floats. `divisor` is non-zero.
///
/// `(dividend / divisor).floor()` would be wrong where the quotient rounds up to a whole
/// number: Python's `1 // 0.1` is `9.0` because 0.1 is slightly more than a tenth. So, like
/// CPython, derive the quotient from the exact remainder of `fmod` and then snap it to the
/// nearest whole number.
fn floor_div(dividend: f64, divisor: f64) -> f64 {
    let remainder = dividend % divisor;
    let mut quotient = (dividend - remainder) / divisor;
    if remainder != 0.0 && (remainder < 0.0) != (divisor < 0.0) {
        quotient -= 1.0;
    }
    if quotient == 0.0 {
        return 0.0_f64.copysign(dividend / divisor);
    }
    let floor = quotient.floor();
    if quotient - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

/// `ndigits` of `round` must be a whole number (Python raises TypeError for a float).
/// Beyond ±400 every `round` result is the same, so the value is clamped to that range.
fn whole_ndigits(ndigits: f64) -> Result<i32, EvalError> {
    if ndigits.fract() != 0.0 {
        return Err(EvalError::Domain {
            function: "round",
            value: ndigits,
        });
    }
    // In range after the clamp, so the cast is exact.
    Ok(ndigits.clamp(-400.0, 400.0) as i32)
}

/// Python's `round(value, ndigits)`: the exact binary value of `value`, rounded half to
/// even at the `ndigits`-th decimal place. Hence `round(0.125, 2) == 0.12` (an exact tie)
/// but `round(2.675, 2) == 2.67` (2.675 is stored as 2.67499999...).
///
/// Works on the exact decimal expansion, which Rust's formatter produces for any precision;
/// 1074 places hold every fraction an f64 can have.
fn round_to(value: f64, ndigits: i32) -> f64 {
    // Every f64 already has fewer than 324 significant decimal places...
    if ndigits > 323 {
        return value;
    }
    // ...and none reaches half of 10^309.
    if ndigits < -308 {
        return 0.0_f64.copysign(value);
    }
    let expansion = format!("{:.1074}", value.abs());
    let (whole, fraction) = expansion.split_once('.').unwrap_or((&expansion, ""));
    let digits = format!("{whole}{fraction}");
    // How many leading digits survive; the rest decide the rounding.
    let kept_count = whole.len() as i64 + i64::from(ndigits);
    let Ok(kept_count) = usize::try_from(kept_count) else {
        // The first kept place is left of the leading digit: the value is under a tenth of
        // the rounding unit.
        return 0.0_f64.copysign(value);
    };
    let (Some(kept), Some(dropped)) = (digits.get(..kept_count), digits.get(kept_count..)) else {
        return value;
    };
    let mut kept: Vec<u8> = kept.bytes().collect();
    let mut dropped_digits = dropped.bytes();
    let first_dropped = dropped_digits.next().unwrap_or(b'0');
    let beyond_half = dropped_digits.any(|d| d != b'0');
    // `b'0'` is even, so an ASCII digit's parity is its byte's parity.
    let last_kept_odd = kept.last().is_some_and(|d| d % 2 == 1);
    let round_up =
        first_dropped > b'5' || (first_dropped == b'5' && (beyond_half || last_kept_odd));
    if round_up {
        increment_decimal(&mut kept);
    }
    let mantissa = if kept.is_empty() {
        "0".to_string()
    } else {
        String::from_utf8_lossy(&kept).into_owned()
    };
    let rounded = format!("{mantissa}e{}", -ndigits)
        .parse::<f64>()
        .unwrap_or(f64::NAN);
    rounded.copysign(value)
}

/// Adds one to a string of ASCII digits.
fn increment_decimal(digits: &mut Vec<u8>) {
    for digit in digits.iter_mut().rev() {
        if *digit == b'9' {
            *digit = b'0';
        } else {
            *digit += 1;
            return;
        }
    }
    digits.insert(0, b'1');
}

//! Canonical printing: only the parentheses the structure needs, so that parsing the
//! printed text gives back the same tree.

use std::fmt::{self, Display, Formatter};

use super::ast::{Ast, BinaryOp};

/// Binding strength, loosest first. Operands that bind looser than their position allows
/// get parentheses.
const SUM: u8 = 1;
const PRODUCT: u8 = 2;
const SIGN: u8 = 3;
const POWER: u8 = 4;
const ATOM: u8 = 5;

fn precedence(ast: &Ast) -> u8 {
    match ast {
        Ast::Unary { .. } => SIGN,
        Ast::Binary { op, .. } => binary_precedence(*op),
        Ast::Number(_)
        | Ast::Alias(_)
        | Ast::Call { .. }
        | Ast::Round { .. }
        | Ast::MinMax { .. } => ATOM,
    }
}

fn binary_precedence(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Add | BinaryOp::Sub => SUM,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::FloorDiv | BinaryOp::Mod => PRODUCT,
        BinaryOp::Pow => POWER,
    }
}

fn operand(f: &mut Formatter<'_>, ast: &Ast, parenthesize: bool) -> fmt::Result {
    if parenthesize {
        write!(f, "({ast})")
    } else {
        write!(f, "{ast}")
    }
}

/// The shortest text that reads back as exactly `value` (Rust's `{:?}` is shortest
/// round-trip and switches to exponents for very large and small magnitudes), minus a
/// redundant `.0`.
fn number(f: &mut Formatter<'_>, value: f64) -> fmt::Result {
    if !value.is_finite() {
        // Not producible by the parser; printed for debugging only, it does not parse.
        return write!(f, "{value:?}");
    }
    if value.is_sign_negative() {
        // Not producible by the parser either; parentheses keep the meaning, though it
        // reads back as a negation.
        return write!(f, "({value:?})");
    }
    let text = format!("{value:?}");
    f.write_str(text.strip_suffix(".0").unwrap_or(&text))
}

impl Display for Ast {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Ast::Number(value) => number(f, *value),
            Ast::Alias(name) => f.write_str(name),
            Ast::Unary { op, operand: inner } => {
                f.write_str(op.symbol())?;
                operand(f, inner, precedence(inner) < SIGN)
            }
            Ast::Binary {
                op: BinaryOp::Pow,
                left,
                right,
            } => {
                // The base must be an atom (`(-2) ** 2`, `(a ** b) ** c`); the exponent may
                // be a signed or another power (`2 ** -1`, `2 ** 3 ** 2`).
                operand(f, left, precedence(left) < ATOM)?;
                f.write_str(" ** ")?;
                operand(f, right, precedence(right) < SIGN)
            }
            Ast::Binary { op, left, right } => {
                // Left-associative: an equal-precedence right operand needs parentheses,
                // `a - (b - c)`, and keeps them even where they change nothing, `a + (b + c)`.
                let own = binary_precedence(*op);
                operand(f, left, precedence(left) < own)?;
                write!(f, " {} ", op.symbol())?;
                operand(f, right, precedence(right) <= own)
            }
            Ast::Call { function, argument } => write!(f, "{}({argument})", function.name()),
            Ast::Round { value, ndigits } => match ndigits {
                None => write!(f, "round({value})"),
                Some(ndigits) => write!(f, "round({value}, {ndigits})"),
            },
            Ast::MinMax {
                function,
                first,
                rest,
                list,
            } => {
                let (open, close) = if *list { ("([", "])") } else { ("(", ")") };
                write!(f, "{}{open}{first}", function.name())?;
                for value in rest {
                    write!(f, ", {value}")?;
                }
                f.write_str(close)
            }
        }
    }
}

//! Metric expressions: the arithmetic a cluster definition writes over its metric aliases,
//! such as `cpu_usage * mem_usage * 100` or `max([cpu_usage, mem_usage])`.
//!
//! An expression is parsed once, when the definition is loaded, into a syntax tree
//! ([`Ast`]), and evaluated against fresh metric values as often as needed. Nothing is ever
//! executed: the language has numbers, aliases, arithmetic and seven functions, and any
//! other text is a [`ParseError`] that points at the column where it starts.
//!
//! # Grammar
//!
//! In EBNF; whitespace (spaces, tabs, newlines) may appear between any two tokens.
//!
//! ```ebnf
//! expression = term , { ( "+" | "-" ) , term } ;
//! term       = factor , { ( "*" | "/" | "//" | "%" ) , factor } ;
//! factor     = ( "+" | "-" ) , factor | power ;
//! power      = primary , [ "**" , factor ] ;
//! primary    = number | alias | call | "(" , expression , ")" ;
//!
//! call       = ( "min" | "max" ) , "(" , ( list | arguments ) , [ "," ] , ")"
//!            | ( "abs" | "ceil" | "floor" | "sqrt" ) , "(" , expression , [ "," ] , ")"
//!            | "round" , "(" , expression , [ "," , expression ] , [ "," ] , ")" ;
//! list       = "[" , arguments , [ "," ] , "]" ;
//! arguments  = expression , { "," , expression } ;
//!
//! alias      = identifier ;   (* except the reserved names below *)
//! identifier = ( letter | "_" ) , { letter | digit | "_" } ;
//! number     = digits , [ "." , [ digits ] ] , [ exponent ]
//!            | "." , digits , [ exponent ] ;
//! digits     = digit , { [ "_" ] , digit } ;
//! exponent   = ( "e" | "E" ) , [ "+" | "-" ] , digits ;
//! letter     = "A" | ... | "Z" | "a" | ... | "z" ;
//! digit      = "0" | ... | "9" ;
//! ```
//!
//! This is Python's expression grammar cut down to arithmetic, with Python's precedence
//! and associativity, loosest first:
//!
//! | operators             | associativity | example                        |
//! |-----------------------|---------------|--------------------------------|
//! | `+` `-`               | left          | `a - b - c` is `(a - b) - c`   |
//! | `*` `/` `//` `%`      | left          | `a / b * c` is `(a / b) * c`   |
//! | prefix `-` `+`        |               | `-a * b` is `(-a) * b`         |
//! | `**`                  | right         | `2 ** 3 ** 2` is `2 ** 9`      |
//!
//! `**` binds tighter than a sign on its left and accepts one on its right:
//! `-2 ** 2` is `-4`, `2 ** -1` is `0.5`.
//!
//! **Names.** Identifiers are metric aliases, matched as whole tokens (`cpu` never matches
//! inside `cpu_usage`). These names are reserved and cannot be aliases: the function names
//! `abs ceil floor max min round sqrt` (using one without a call is an error), Python's
//! keywords (`not`, `lambda`, `if`, `True`, ...), names starting with `__`, and the
//! built-ins that run code (`eval exec compile open globals locals vars getattr setattr
//! delattr breakpoint`). [`check_alias`] tells whether a name can be an alias.
//!
//! **State names.** `desired_count` and `running_count` ([`STATE_NAMES`]) are read like
//! aliases, but their values are the service's current counts, which the planner takes from
//! ECS; no source may define an alias of either name. [`Expr::aliases`] leaves them out,
//! [`Expr::state_names`] lists them.
//!
//! **Functions.** `min` and `max` take one or more values, either as arguments,
//! `max(a, b, c)`, or as a single list, `max([a, b, c])`; lists appear nowhere else.
//! `abs`, `ceil`, `floor` and `sqrt` take one argument; `round` takes one, `round(x)`, or two,
//! `round(x, ndigits)`.
//!
//! **Numbers.** Decimal literals as in Python: `3`, `3.5`, `.5`, `5.`, `1e3`, `2.5E-2`,
//! `1_000`. Every value is an `f64`.
//!
//! **Not in the language**, and rejected when parsed: strings, attribute access (`a.b`),
//! indexing (`a[0]`), calls of anything but the functions above, keyword arguments,
//! comparisons, boolean and bitwise operators, conditional expressions, lambdas,
//! comprehensions, assignments and `;`.
//!
//! **Limits.** At most [`MAX_LENGTH`] characters, [`MAX_NESTING`] levels of nested
//! parentheses, calls and signs, and a syntax tree at most [`MAX_HEIGHT`] levels high (which
//! bounds long chains such as `a + b + c + ...`).
//!
//! # Semantics
//!
//! Results are Python's, computed on floats:
//!
//! - `/` is true division; `//` rounds the quotient towards negative infinity; `%` takes the
//!   sign of the divisor (`-7 % 3` is `2`, `7 % -3` is `-2`).
//! - `round` rounds half to even (`round(2.5)` is `2`); with `ndigits` it rounds the exact
//!   binary value, as Python does (`round(0.125, 2)` is `0.12`, `round(2.675, 2)` is `2.67`
//!   because 2.675 is stored as 2.67499999...). `ndigits` may be negative
//!   (`round(1250, -2)` is `1200`).
//! - `ceil`, `floor` and `round` return whole numbers, as floats.
//! - `min` and `max` return the first of equal values, as Python does.
//!
//! Where Python would raise an exception, or where it would carry on with a value no
//! scaling decision should use, evaluation returns an [`EvalError`]: a missing metric; a
//! division or modulo by zero, or `0 ** -1`; the square root of a negative number; a
//! non-whole `ndigits`; and any NaN or infinite value: a metric reported as NaN, an overflow
//! (`10 ** 400`, and also `1e308 * 10`, for which Python would return `inf`), or a negative
//! number raised to a fractional power (`(-8) ** 0.5`, a complex number in Python).
//!
//! Python's integers are unbounded and exact; ours are floats, so whole numbers beyond
//! 2<sup>53</sup> lose precision, and results are floats where Python would give integers
//! (`7 // 2` is `3.0`; `round(-0.5)` is `-0.0`, which equals `0`).

mod ast;
mod error;
mod eval;
mod lexer;
mod names;
mod parser;
mod print;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt::{self, Display, Formatter};
use std::str::FromStr;

pub use ast::{Ast, BinaryOp, Function, MinMax, UnaryOp};
pub use error::{EvalError, ParseError};
pub use names::{check_alias, is_state_name, FUNCTION_NAMES, STATE_NAMES};

/// The longest expression accepted, in characters.
pub const MAX_LENGTH: usize = 4096;
/// How deeply parentheses, brackets, calls and signs may nest.
pub const MAX_NESTING: usize = 64;
/// The greatest height of a syntax tree; a chain `a + a + ... + a` of n terms is n high.
pub const MAX_HEIGHT: usize = 256;

/// A parsed metric expression.
///
/// Two expressions are equal when their syntax trees are: `(a + b)*2` equals `(a+b) * 2`.
/// The source text is kept for messages and serialization.
#[derive(Debug, Clone)]
pub struct Expr {
    ast: Ast,
    source: String,
}

impl Expr {
    /// Parses `source` (see the module documentation for the grammar).
    pub fn parse(source: &str) -> Result<Expr, ParseError> {
        Ok(Expr {
            ast: parser::parse(source)?,
            source: source.to_string(),
        })
    }

    /// Wraps a syntax tree; the source becomes its canonical printing. See [`Ast`] for what
    /// a tree must satisfy to print as text that parses back to it.
    pub fn from_ast(ast: Ast) -> Expr {
        let source = ast.to_string();
        Expr { ast, source }
    }

    pub fn ast(&self) -> &Ast {
        &self.ast
    }

    /// The text the expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Metric aliases referenced, sorted, deduplicated (the [`STATE_NAMES`] are not aliases).
    pub fn aliases(&self) -> Vec<String> {
        self.names(|name| !names::is_state_name(name))
    }

    /// The [`STATE_NAMES`] referenced, sorted, deduplicated.
    pub fn state_names(&self) -> Vec<String> {
        self.names(names::is_state_name)
    }

    fn names(&self, keep: impl Fn(&str) -> bool) -> Vec<String> {
        let mut found = BTreeSet::new();
        self.ast.for_each_alias(&mut |name| {
            if keep(name) {
                found.insert(name);
            }
        });
        found.into_iter().map(str::to_string).collect()
    }

    /// Evaluates the expression, asking `lookup` for each alias's value; `None` means the
    /// metric has no value. The result is always finite.
    pub fn eval<F: Fn(&str) -> Option<f64>>(&self, lookup: F) -> Result<f64, EvalError> {
        eval::eval(&self.ast, &lookup)
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Expr) -> bool {
        self.ast == other.ast
    }
}

/// Canonical text: single spaces around binary operators and only the parentheses the
/// structure needs. Parsing it gives back an equal expression.
impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.ast.fmt(f)
    }
}

impl FromStr for Expr {
    type Err = ParseError;

    fn from_str(source: &str) -> Result<Expr, ParseError> {
        Expr::parse(source)
    }
}

/// Serializes as the source text.
impl serde::Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

/// Deserializes from a string, which must parse.
impl<'de> serde::Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Expr, D::Error> {
        let source = String::deserialize(deserializer)?;
        Expr::parse(&source).map_err(serde::de::Error::custom)
    }
}

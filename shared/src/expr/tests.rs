//! Table tests: values checked against Python, parse errors, evaluation errors, rejected
//! injections, aliases and printing.

use super::*;

/// The metric values the value table evaluates with.
const METRICS: [(&str, f64); 7] = [
    ("cpu_usage", 75.5),
    ("mem_usage", 2048.0),
    ("cpu", 10.0),
    ("queue_length", 12.0),
    ("x", 2.5),
    ("zero", 0.0),
    ("neg", -7.0),
];

fn metrics(name: &str) -> Option<f64> {
    METRICS
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, value)| *value)
}

fn eval_str(source: &str) -> Result<f64, EvalError> {
    match Expr::parse(source) {
        Ok(expr) => expr.eval(metrics),
        Err(error) => panic!("`{source}` does not parse: {error}"),
    }
}

/// Each expression is also valid Python, and the value is what Python 3.11 prints for
///
/// ```python
/// from math import ceil, floor, sqrt
/// cpu_usage, mem_usage, cpu, queue_length, x, zero, neg = 75.5, 2048.0, 10.0, 12.0, 2.5, 0.0, -7.0
/// float(EXPRESSION)
/// ```
///
/// (Python gives ints where these are whole floats; `round(-0.5)` is `0` there and `-0.0`
/// here, which compare equal.)
// The values are kept exactly as Python prints them, even where they spell a std constant.
#[allow(clippy::approx_constant)]
const PYTHON_CASES: &[(&str, f64)] = &[
    ("cpu_usage * mem_usage * 100", 15462400.0),
    ("max([cpu_usage, mem_usage])", 2048.0),
    ("min([cpu_usage, mem_usage])", 75.5),
    ("max(cpu_usage, mem_usage, 3000)", 3000.0),
    ("min(cpu, cpu_usage)", 10.0),
    ("max([queue_length])", 12.0),
    ("cpu + cpu_usage", 85.5),
    ("cpu_usage - cpu", 65.5),
    (
        "cpu_usage ** 2 - (mem_usage - 2000 + 1) * mem_usage + mem_usage * 0",
        -94651.75,
    ),
    ("1 + 2 * 3", 7.0),
    ("(1 + 2) * 3", 9.0),
    ("10 - 4 - 3", 3.0),
    ("10 - (4 - 3)", 9.0),
    ("2 * 3 / 4", 1.5),
    ("100 / 10 / 5", 2.0),
    ("10 % 3 * 2", 2.0),
    ("2 * 3 % 4", 2.0),
    ("-2 ** 2", -4.0),
    ("(-2) ** 2", 4.0),
    ("2 ** -1", 0.5),
    ("-2 ** -2", -0.25),
    ("2 ** 3 ** 2", 512.0),
    ("(2 ** 3) ** 2", 64.0),
    ("-x ** 2", -6.25),
    ("2 ** -x", 0.1767766952966369),
    ("--3", 3.0),
    ("-+-3", 3.0),
    ("2 * -3", -6.0),
    ("-cpu_usage * 2", -151.0),
    ("abs(-2) ** 2", 4.0),
    ("8 ** (1 / 3)", 2.0),
    ("2 ** 0.5", 1.4142135623730951),
    ("-7 % 3", 2.0),
    ("7 % -3", -2.0),
    ("-7 % -3", -1.0),
    ("neg % 3", 2.0),
    ("1 % 0.1", 0.09999999999999995),
    ("-7 // 2", -4.0),
    ("7 // -2", -4.0),
    ("neg // 2", -4.0),
    ("7.5 // 2", 3.0),
    ("1 // 0.1", 9.0),
    ("cpu_usage // 1", 75.0),
    ("7 / 2", 3.5),
    ("round(2.5)", 2.0),
    ("round(3.5)", 4.0),
    ("round(-0.5)", 0.0),
    ("round(-2.5)", -2.0),
    ("round(x)", 2.0),
    ("round(0.125, 2)", 0.12),
    ("round(0.375, 2)", 0.38),
    ("round(2.675, 2)", 2.67),
    ("round(1250, -2)", 1200.0),
    ("round(1350, -2)", 1400.0),
    ("round(cpu_usage, -1)", 80.0),
    ("round(1234.5678, 2)", 1234.57),
    ("round(5e-324, 323)", 0.0),
    ("round(sqrt(cpu_usage), 3)", 8.689),
    ("ceil(x)", 3.0),
    ("floor(-x)", -3.0),
    ("ceil(-0.5)", 0.0),
    ("abs(neg)", 7.0),
    ("sqrt(16)", 4.0),
    ("sqrt(2)", 1.4142135623730951),
    ("max(abs(neg), sqrt(queue_length * 3))", 7.0),
    ("max([cpu_usage * 2, mem_usage / 10, 100])", 204.8),
    ("min(max(cpu, 5), 8)", 8.0),
    ("max(1, 2,)", 2.0),
    ("  cpu_usage\t*  2  ", 151.0),
    ("(cpu_usage\n  * 2)", 151.0),
    ("1e3 + 2.5E-2", 1000.025),
    (".5 + 5.", 5.5),
    ("1_000 * 2", 2000.0),
    ("1e-7 * 1e7", 1.0),
    ("1e300 * 1e-300", 1.0),
    ("0.1 + 0.2", 0.30000000000000004),
    ("queue_length / (cpu + 2)", 1.0),
    ("zero * 5 + 1", 1.0),
    ("zero ** 0", 1.0),
];

#[test]
fn values_match_python() {
    assert!(PYTHON_CASES.len() >= 40);
    for &(source, expected) in PYTHON_CASES {
        let actual = eval_str(source);
        assert_eq!(actual, Ok(expected), "`{source}`");
    }
}

#[test]
fn aliases_are_whole_tokens() {
    let expr = Expr::parse("cpu + cpu_usage * max([cpu, mem_usage_2]) - _x1 / cpu").unwrap();
    assert_eq!(expr.aliases(), ["_x1", "cpu", "cpu_usage", "mem_usage_2"]);
    // The original replaced `cpu` inside `cpu_usage` too; here each is its own metric.
    let lookup = |name: &str| match name {
        "cpu" => Some(1.0),
        "cpu_usage" => Some(100.0),
        _ => None,
    };
    assert_eq!(
        Expr::parse("cpu_usage + cpu").unwrap().eval(lookup),
        Ok(101.0)
    );
    assert_eq!(
        Expr::parse("2 * 3 + sqrt(4)").unwrap().aliases(),
        Vec::<String>::new()
    );
    assert_eq!(
        Expr::parse("round(a, n) + a").unwrap().aliases(),
        ["a", "n"]
    );
}

/// (source, column, a fragment of the message)
const PARSE_ERRORS: &[(&str, usize, &str)] = &[
    // empty
    ("", 1, "expression is empty"),
    (" \t\n", 1, "expression is empty"),
    // unexpected character, shown
    ("a + $", 5, "unexpected character `$`"),
    ("a + é", 5, "unexpected character `é`"),
    ("a +\u{a0}b", 4, "U+00A0 is not a plain space"),
    ("a \\ b", 3, "unexpected character `\\\\`"),
    // unexpected token
    (
        "a + * b",
        5,
        "expected a number, a metric alias, a function call or `(`, found `*`",
    ),
    ("a +", 4, "found the end of the expression"),
    ("()", 2, "found `)`"),
    ("a ** ** b", 6, "found `**`"),
    // unbalanced parentheses
    (
        "(a + b",
        1,
        "unbalanced parentheses: this `(` is never closed",
    ),
    ("((a + b) * 2", 1, "this `(` is never closed"),
    (
        "a + b)",
        6,
        "unbalanced parentheses: this `)` has no matching `(`",
    ),
    ("max(a, b", 4, "this `(` is never closed"),
    (
        "max([a, b",
        5,
        "unbalanced brackets: this `[` is never closed",
    ),
    ("(a b)", 4, "expected `)` or an operator, found `b`"),
    (
        "max(a b)",
        7,
        "expected `,` or `)` in the arguments of `max`, found `b`",
    ),
    (
        "max([a, b)",
        10,
        "expected `,` or `]` in the list, found `)`",
    ),
    // trailing input
    (
        "a b",
        3,
        "unexpected `b` after a complete expression; is an operator missing?",
    ),
    ("a, b", 2, "unexpected `,` after a complete expression"),
    ("2 3", 3, "unexpected `3`"),
    // wrong number of arguments
    (
        "sqrt(a, b)",
        1,
        "`sqrt` takes exactly one argument, but got 2",
    ),
    (
        "1 + abs()",
        5,
        "`abs` takes exactly one argument, but got 0",
    ),
    (
        "round(a, 1, 2)",
        1,
        "`round` takes one or two arguments, `round(x)` or `round(x, ndigits)`, but got 3",
    ),
    ("round()", 1, "but got 0"),
    ("max()", 1, "`max` needs at least one value"),
    ("min([])", 1, "`min` needs at least one value"),
    ("max(,)", 5, "found `,`"),
    // lists outside min/max
    (
        "[a, b]",
        1,
        "a list `[...]` is only allowed as the single argument of `min` or `max`",
    ),
    (
        "abs([a])",
        5,
        "only allowed as the single argument of `min` or `max`",
    ),
    (
        "max([a], b)",
        5,
        "a list must be the only argument of `max`",
    ),
    ("max([[a]])", 6, "a list `[...]` is only allowed"),
    ("max(([a]))", 6, "a list `[...]` is only allowed"),
    // unknown functions
    (
        "a + foo(b)",
        5,
        "unknown function `foo`; the functions are abs, ceil, floor, max, min, round and sqrt",
    ),
    ("pow(2, 3)", 1, "unknown function `pow`"),
    // reserved names used as aliases
    (
        "max + 1",
        1,
        "`max` is a function; call it like `max(a, b)`",
    ),
    (
        "2 * sqrt",
        5,
        "`sqrt` is a function; call it like `sqrt(x)`",
    ),
    ("round", 1, "call it like `round(x)` or `round(x, ndigits)`"),
    (
        "exec",
        1,
        "`exec` is reserved: expressions are arithmetic only",
    ),
    (
        "__class__",
        1,
        "`__class__` is reserved: names starting with `__`",
    ),
    ("True", 1, "`True` is a Python keyword"),
    // Python syntax that is not ours
    ("a.b", 2, "attribute access (`.`) is not allowed"),
    ("a[0]", 2, "indexing (`[...]`) is not allowed"),
    (
        "(a)(b)",
        4,
        "only the functions abs, ceil, floor, max, min, round and sqrt can be called",
    ),
    ("2(3)", 2, "only the functions"),
    ("1 if a else 2", 3, "`if` is a Python keyword"),
    ("a == b", 3, "comparisons (`==`) are not allowed"),
    ("a < b", 3, "comparisons are not allowed"),
    (
        "round(x, ndigits=2)",
        17,
        "keyword arguments (`=`) are not allowed",
    ),
    ("a; b", 2, "`;` is not allowed"),
    ("a & b", 3, "bitwise operators are not allowed"),
    // numbers
    ("2x", 1, "invalid number `2x`"),
    ("1.5.3", 1, "invalid number `1.5.`"),
    ("0x1F", 1, "invalid number `0x`"),
    ("1__0", 1, "`_` may only appear between digits"),
    ("1_", 1, "`_` may only appear between digits"),
    ("1e", 1, "the exponent has no digits"),
    ("1e+x", 1, "the exponent has no digits"),
    ("007", 1, "leading zeros are not allowed"),
    ("1e400", 1, "number `1e400` is too large"),
];

#[test]
fn parse_errors_have_column_and_message() {
    for &(source, column, fragment) in PARSE_ERRORS {
        match Expr::parse(source) {
            Ok(expr) => panic!("`{source}` parsed as {expr}"),
            Err(error) => {
                assert!(
                    error.message.contains(fragment),
                    "`{source}`: {:?} lacks {fragment:?}",
                    error.message
                );
                assert_eq!(error.column, column, "`{source}`: {}", error.message);
            }
        }
    }
}

#[test]
fn parse_error_display_names_the_column() {
    let error = Expr::parse("a + * b").unwrap_err();
    assert_eq!(
        error.to_string(),
        "column 5: expected a number, a metric alias, a function call or `(`, found `*`"
    );
    let _: &dyn std::error::Error = &error;
}

#[test]
fn whole_number_zeros_and_leading_zero_floats_are_fine() {
    for (source, value) in [
        ("0", 0.0),
        ("00", 0.0),
        ("0_0", 0.0),
        ("007.5", 7.5),
        ("0e5", 0.0),
        ("1.e2", 100.0),
    ] {
        assert_eq!(eval_str(source), Ok(value), "`{source}`");
    }
}

#[test]
fn limits_are_errors_not_stack_overflows() {
    let too_long = "1".repeat(MAX_LENGTH + 1);
    let error = Expr::parse(&too_long).unwrap_err();
    assert_eq!(error.column, MAX_LENGTH + 1);
    assert!(error.message.contains("too long"), "{error}");
    assert!(Expr::parse(&format!("{}1", " ".repeat(MAX_LENGTH - 1))).is_ok());

    let deep =
        |open: &str, close: &str, n: usize| format!("{}a{}", open.repeat(n), close.repeat(n));
    assert!(Expr::parse(&deep("(", ")", MAX_NESTING - 1)).is_ok());
    let nested_error = |source: &str| match Expr::parse(source) {
        Ok(_) => panic!("`{source}` parsed"),
        Err(error) => {
            assert!(error.message.contains("nested too deeply"), "{error}");
            error.column
        }
    };
    assert_eq!(nested_error(&deep("(", ")", MAX_NESTING)), MAX_NESTING + 1);
    nested_error(&deep("(", ")", 2000));
    nested_error(&deep("-", "", 2000));
    nested_error(&deep("max(", ")", 500));
    nested_error(&deep("max([", "])", 400));
    nested_error(&format!("{}2", "2 ** ".repeat(800)));

    let chain = |n: usize| format!("a{}", " + a".repeat(n - 1));
    assert!(Expr::parse(&chain(MAX_HEIGHT - 1)).is_ok());
    let error = Expr::parse(&chain(MAX_HEIGHT + 1)).unwrap_err();
    assert!(error.message.contains("too many operators"), "{error}");
    assert_eq!(
        error.column,
        4 * MAX_HEIGHT - 1,
        "the operator that makes the tree too high"
    );
    assert!(Expr::parse(&format!("a{}", "*a".repeat(2000))).is_err());
}

#[test]
fn eval_errors() {
    let cases: &[(&str, EvalError, &str)] = &[
        (
            "queue_length + missing",
            EvalError::MissingMetric("missing".into()),
            "metric `missing` has no value",
        ),
        ("1 / zero", EvalError::DivisionByZero, "division by zero"),
        ("1 // 0", EvalError::DivisionByZero, "division by zero"),
        ("1 % 0.0", EvalError::DivisionByZero, "division by zero"),
        ("0 ** -1", EvalError::DivisionByZero, "division by zero"),
        ("zero ** neg", EvalError::DivisionByZero, "division by zero"),
        ("10 ** 400", EvalError::NonFinite, "not a finite number"),
        ("1e308 * 10", EvalError::NonFinite, "not a finite number"),
        (
            "-1e308 - 1e308",
            EvalError::NonFinite,
            "not a finite number",
        ),
        ("(-8) ** 0.5", EvalError::NonFinite, "not a finite number"),
        (
            "1e300 // 1e-300",
            EvalError::NonFinite,
            "not a finite number",
        ),
        (
            "round(1.7976931348623157e308, -308)",
            EvalError::NonFinite,
            "not a finite number",
        ),
        (
            "sqrt(neg)",
            EvalError::Domain {
                function: "sqrt",
                value: -7.0,
            },
            "`sqrt` is not defined for -7",
        ),
        (
            "round(x, 0.5)",
            EvalError::Domain {
                function: "round",
                value: 0.5,
            },
            "`round` is not defined for 0.5",
        ),
    ];
    for (source, error, message) in cases {
        let actual = eval_str(source);
        assert_eq!(actual.as_ref(), Err(error), "`{source}`");
        assert!(error.to_string().contains(message), "{error}");
    }
    // The first missing metric, in reading order, is the one reported.
    let expr = Expr::parse("a + b").unwrap();
    assert_eq!(
        expr.eval(|_| None),
        Err(EvalError::MissingMetric("a".into()))
    );
    // Metric values that are not finite are refused rather than propagated.
    for value in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let expr = Expr::parse("min(a, 1)").unwrap();
        assert_eq!(expr.eval(|_| Some(value)), Err(EvalError::NonFinite));
    }
    // `-0.0` is not negative: Python's sqrt(-0.0) is -0.0.
    assert_eq!(eval_str("sqrt(-0.0)"), Ok(0.0));
}

#[test]
fn round_matches_python_at_the_edges() {
    // (source, Python's result)
    for (source, expected) in [
        ("round(0.5, 0)", 0.0),
        ("round(1.5, 0)", 2.0),
        ("round(-1.5, 0)", -2.0),
        ("round(1.005, 2)", 1.0),
        ("round(1234.5, -400)", 0.0),
        ("round(1234.5, 400)", 1234.5),
        ("round(0.5, -1)", 0.0),
        ("round(50, -2)", 0.0),
        ("round(51, -2)", 100.0),
        ("round(150, -2)", 200.0),
        ("round(999.5, 0)", 1000.0),
        ("round(5e-324, 324)", 5e-324),
    ] {
        assert_eq!(eval_str(source), Ok(expected), "`{source}`");
    }
    // Python refuses a float `ndigits` even when whole; we accept it, clamped.
    assert_eq!(eval_str("round(1234.5, 1e300)"), Ok(1234.5));
    // Python keeps the sign of a value rounded to zero.
    assert!(eval_str("round(-0.001, 2)").unwrap().is_sign_negative());
}

/// Code that the original's `eval` would have run. Every one must be refused at parse
/// time, before any lookup could happen.
const INJECTIONS: &[&str] = &[
    "__import__('os').system('id')",
    "__import__",
    "open('/etc/passwd').read()",
    "a.__class__",
    "x.__class__.__bases__[0].__subclasses__()",
    "lambda: 1",
    "(lambda: 0)()",
    "[x for x in y]",
    "max([x for x in y])",
    "eval(\"1\")",
    "exec",
    "exec('import os')",
    "globals()",
    "__builtins__",
    "print(a)",
    "1 if a else 2",
    "a[0]",
    "a == b",
    "a != b",
    "not a",
    "a and b",
    "a or b",
    "a is None",
    "'a'",
    "\"a\"",
    "f\"{a}\"",
    "b'x'",
    "a; b",
    "a = 1",
    "a := 1",
    "round(x, ndigits=2)",
    "max(a, key=b)",
    "max(*a)",
    "{}",
    "{a: 1}",
    "a @ b",
    "~a",
    "a << 2",
    "a # comment",
    "a\\\n+ b",
    "yield a",
    "await a",
];

#[test]
fn injections_are_parse_errors() {
    for source in INJECTIONS {
        assert!(Expr::parse(source).is_err(), "`{source}` parsed");
    }
}

#[test]
fn printing_is_canonical() {
    for (source, printed) in [
        ("a+b*c", "a + b * c"),
        ("(a + b) * c", "(a + b) * c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("a + (b + c)", "a + (b + c)"),
        ("a / (b * c)", "a / (b * c)"),
        ("-2 ** 2", "-2 ** 2"),
        ("(-2) ** 2", "(-2) ** 2"),
        ("-(2 ** 2)", "-2 ** 2"),
        ("2 ** -1", "2 ** -1"),
        ("2 ** 3 ** 2", "2 ** 3 ** 2"),
        ("(2 ** 3) ** 2", "(2 ** 3) ** 2"),
        ("2 ** (a * b)", "2 ** (a * b)"),
        ("-(a * b)", "-(a * b)"),
        ("-(-a)", "--a"),
        ("a - -b", "a - -b"),
        ("((a))", "a"),
        ("max([a,b])", "max([a, b])"),
        ("max(a,b,)", "max(a, b)"),
        ("round( x , 2 )", "round(x, 2)"),
        ("floor(x)+ceil(x)", "floor(x) + ceil(x)"),
        ("1_000", "1000"),
        ("1e300", "1e300"),
        ("1e-7", "1e-7"),
        (".5", "0.5"),
        ("5.", "5"),
        ("2.5E-2", "0.025"),
        ("123456789012345678", "1.2345678901234568e17"),
    ] {
        let expr = Expr::parse(source).unwrap();
        assert_eq!(expr.to_string(), printed, "`{source}`");
        assert_eq!(expr.source(), source);
        assert_eq!(
            Expr::parse(printed).unwrap(),
            expr,
            "`{printed}` reads back"
        );
    }
}

#[test]
fn equality_ignores_spacing_and_redundant_parentheses() {
    assert_eq!(
        Expr::parse("(a+b)*2").unwrap(),
        Expr::parse("(a + b) * 2").unwrap()
    );
    assert_ne!(Expr::parse("a + b").unwrap(), Expr::parse("b + a").unwrap());
    assert_ne!(
        Expr::parse("max(a)").unwrap(),
        Expr::parse("max([a])").unwrap()
    );
}

#[test]
fn from_str_and_from_ast() {
    let expr: Expr = "cpu * 2".parse().unwrap();
    assert_eq!(
        expr.ast(),
        &Ast::Binary {
            op: BinaryOp::Mul,
            left: Box::new(Ast::Alias("cpu".into())),
            right: Box::new(Ast::Number(2.0)),
        }
    );
    let rebuilt = Expr::from_ast(expr.ast().clone());
    assert_eq!(rebuilt, expr);
    assert_eq!(rebuilt.source(), "cpu * 2");
    assert!("cpu *".parse::<Expr>().is_err());
}

#[test]
fn serde_uses_the_source_text() {
    let expr = Expr::parse("max([cpu,mem])*100").unwrap();
    let json = serde_json::to_string(&expr).unwrap();
    assert_eq!(json, r#""max([cpu,mem])*100""#);
    let back: Expr = serde_json::from_str(&json).unwrap();
    assert_eq!(back, expr);
    assert_eq!(back.source(), expr.source());
    let error = serde_json::from_str::<Expr>(r#""cpu +""#).unwrap_err();
    assert!(error.to_string().contains("column 6"), "{error}");
}

#[test]
fn check_alias_agrees_with_the_parser() {
    for name in [
        "cpu",
        "cpu_usage",
        "_x",
        "Queue2",
        "maximum",
        "input",
        "sum",
    ] {
        assert_eq!(check_alias(name), Ok(()), "{name}");
        assert_eq!(Expr::parse(name).unwrap().aliases(), [name]);
    }
    for name in [
        "",
        "2cpu",
        "cpu-usage",
        "cpu.usage",
        "max",
        "sqrt",
        "lambda",
        "None",
        "__x",
        "eval",
        "open",
    ] {
        assert!(check_alias(name).is_err(), "{name}");
        assert!(
            Expr::parse(name).map_or(true, |e| e.aliases() != [name]),
            "{name}"
        );
    }
}

#[test]
fn the_service_counts_are_names_in_expressions_but_never_aliases() {
    for name in STATE_NAMES {
        let why = check_alias(name).expect_err(name);
        assert!(why.contains("reserved"), "{name}: {why}");
        let expr = Expr::parse(&format!("queue / {name}")).expect(name);
        assert_eq!(expr.aliases(), ["queue"], "{name} is not a metric alias");
        assert_eq!(expr.state_names(), [name]);
        let lookup = |n: &str| match n {
            "queue" => Some(12.0),
            "desired_count" => Some(4.0),
            "running_count" => Some(3.0),
            _ => None,
        };
        let expected = if name == "desired_count" { 3.0 } else { 4.0 };
        assert_eq!(expr.eval(lookup), Ok(expected), "{name}");
    }
    assert!(Expr::parse("queue").unwrap().state_names().is_empty());
    // Whole tokens only: a longer name is an ordinary alias.
    assert_eq!(check_alias("desired_count_2"), Ok(()));
}

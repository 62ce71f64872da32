//! Properties: printing round-trips, parsing never panics, evaluation is total.

use proptest::prelude::*;
use proptest::sample::select;

use super::*;

const ALIASES: [&str; 6] = ["a", "b", "cpu", "cpu_usage", "mem_usage", "_x1"];

/// Non-negative finite numbers, biased to the ones whose printing is delicate.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0u32..1000).prop_map(f64::from),
        select(vec![
            0.0,
            0.5,
            0.1,
            1e-7,
            1e16,
            1e300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            123_456_789.125,
        ]),
        any::<f64>()
            .prop_map(f64::abs)
            .prop_filter("finite", |v| v.is_finite()),
    ]
}

/// Trees of every shape the parser can produce, a few levels deep.
fn ast() -> impl Strategy<Value = Ast> {
    let leaf = prop_oneof![
        number().prop_map(Ast::Number),
        select(ALIASES.to_vec()).prop_map(|name| Ast::Alias(name.to_string())),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        let boxed = inner.clone().prop_map(Box::new);
        prop_oneof![
            (select(vec![UnaryOp::Neg, UnaryOp::Pos]), boxed.clone())
                .prop_map(|(op, operand)| Ast::Unary { op, operand }),
            (
                select(vec![
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Div,
                    BinaryOp::FloorDiv,
                    BinaryOp::Mod,
                    BinaryOp::Pow,
                ]),
                boxed.clone(),
                boxed.clone(),
            )
                .prop_map(|(op, left, right)| Ast::Binary { op, left, right }),
            (
                select(vec![
                    Function::Abs,
                    Function::Ceil,
                    Function::Floor,
                    Function::Sqrt
                ]),
                boxed.clone(),
            )
                .prop_map(|(function, argument)| Ast::Call { function, argument }),
            (boxed.clone(), proptest::option::of(boxed.clone()))
                .prop_map(|(value, ndigits)| Ast::Round { value, ndigits }),
            (
                select(vec![MinMax::Min, MinMax::Max]),
                boxed,
                proptest::collection::vec(inner, 0..4),
                any::<bool>(),
            )
                .prop_map(|(function, first, rest, list)| Ast::MinMax {
                    function,
                    first,
                    rest,
                    list,
                }),
        ]
    })
}

/// Fragments of our grammar and of Python's, glued into mostly-almost-valid text.
fn token_soup() -> impl Strategy<Value = String> {
    let tokens = vec![
        "a",
        "cpu",
        "cpu_usage",
        "_",
        "max",
        "min",
        "abs",
        "ceil",
        "floor",
        "round",
        "sqrt",
        "foo",
        "exec",
        "not",
        "lambda",
        "(",
        ")",
        "[",
        "]",
        ",",
        "+",
        "-",
        "*",
        "**",
        "/",
        "//",
        "%",
        "0",
        "1",
        "2.5",
        ".5",
        "5.",
        "1e3",
        "1e-7",
        "1_000",
        "1e400",
        "007",
        "_1",
        "e",
        "E",
        ".",
        "'",
        "\"",
        "=",
        "==",
        ":",
        ";",
        "é",
        "\u{a0}",
        " ",
        " ",
        "\t",
        "\n",
    ];
    proptest::collection::vec(select(tokens), 0..40).prop_map(|parts| parts.concat())
}

/// Metric values including the ones arithmetic trips over.
fn metric_value() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        Just(None),
        select(vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            -2.5,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            5e-324,
            1e308,
        ])
        .prop_map(Some),
        any::<f64>().prop_map(Some),
    ]
}

/// Parsing succeeded or failed without panicking; if it succeeded, printing round-trips
/// and evaluation neither panics nor returns a non-finite value.
fn check_parsed(source: &str) -> Result<(), TestCaseError> {
    if let Ok(expr) = Expr::parse(source) {
        let printed = expr.to_string();
        let reparsed = Expr::parse(&printed);
        prop_assert_eq!(reparsed.as_ref(), Ok(&expr), "printed as {}", printed);
        if let Ok(value) = expr.eval(|name| Some(name.len() as f64 - 2.0)) {
            prop_assert!(value.is_finite());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printing_round_trips(ast in ast()) {
        let expr = Expr::from_ast(ast);
        let printed = expr.to_string();
        prop_assert_eq!(Expr::parse(&printed), Ok(expr), "printed as {}", printed);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(source in any::<String>()) {
        check_parsed(&source)?;
    }

    #[test]
    fn parsing_token_soup_never_panics(source in token_soup()) {
        check_parsed(&source)?;
    }

    #[test]
    fn parsing_mangled_valid_text_never_panics(ast in ast(), cut in any::<prop::sample::Index>(), insert in token_soup()) {
        // Splice junk into the middle of a valid expression.
        let printed = Expr::from_ast(ast).to_string();
        let chars: Vec<char> = printed.chars().collect();
        let at = cut.index(chars.len() + 1);
        let (head, tail) = chars.split_at(at);
        let source: String = head.iter().chain(insert.chars().collect::<Vec<_>>().iter()).chain(tail).collect();
        check_parsed(&source)?;
    }

    #[test]
    fn evaluation_is_total(ast in ast(), values in proptest::collection::vec(metric_value(), ALIASES.len())) {
        let expr = Expr::from_ast(ast);
        let lookup = |name: &str| {
            let index = ALIASES.iter().position(|alias| *alias == name)?;
            values.get(index).copied().flatten()
        };
        match expr.eval(lookup) {
            Ok(value) => prop_assert!(value.is_finite(), "{} gave {}", expr, value),
            Err(EvalError::MissingMetric(name)) => prop_assert!(ALIASES.contains(&name.as_str())),
            Err(_) => {}
        }
    }

    #[test]
    fn aliases_are_exactly_the_alias_leaves(ast in ast()) {
        let expr = Expr::from_ast(ast);
        let aliases = expr.aliases();
        let mut sorted = aliases.clone();
        sorted.sort();
        sorted.dedup();
        prop_assert_eq!(&aliases, &sorted);
        for alias in &aliases {
            prop_assert!(ALIASES.contains(&alias.as_str()));
        }
        // Reading the printed text finds the same aliases.
        let reparsed = Expr::parse(&expr.to_string()).map(|e| e.aliases());
        prop_assert_eq!(reparsed, Ok(aliases));
    }
}

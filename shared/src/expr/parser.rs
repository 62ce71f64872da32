//! Recursive descent over the grammar in the module docs, one function per rule.
//!
//! Two limits keep hostile input from exhausting the stack, both here and in the recursive
//! evaluator and printer: the nesting of parentheses, brackets, calls and prefix operators
//! (which drives the parser's recursion), and the height of the resulting tree (which a
//! long chain like `a + a + ... + a` grows without any nesting).

use super::ast::{Ast, BinaryOp, Function, MinMax, UnaryOp};
use super::error::ParseError;
use super::lexer::{Lexer, Spanned, Token};
use super::names;
use super::{MAX_HEIGHT, MAX_LENGTH, MAX_NESTING};

/// A subtree and its height (a leaf has height 1).
type Parsed = Result<(Ast, usize), ParseError>;

pub(super) fn parse(source: &str) -> Result<Ast, ParseError> {
    let length = source.chars().count();
    if length > MAX_LENGTH {
        return Err(ParseError::new(
            MAX_LENGTH + 1,
            format!(
                "expression is too long ({length} characters; at most {MAX_LENGTH} are allowed)"
            ),
        ));
    }
    let mut parser = Parser::new(source)?;
    if parser.current.token == Token::End {
        return Err(ParseError::new(1, "expression is empty"));
    }
    let (ast, _) = parser.expression()?;
    match parser.current.token {
        Token::End => Ok(ast),
        Token::RParen => Err(parser.error("unbalanced parentheses: this `)` has no matching `(`")),
        _ => Err(parser.error(format!(
            "unexpected {} after a complete expression; is an operator missing?",
            parser.current.describe()
        ))),
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    current: Spanned<'a>,
    nesting: usize,
}

/// What one argument of a call turned out to be.
enum Argument {
    Value(Ast, usize),
    /// A `[...]` list, with the column of its `[`.
    List(Vec<Ast>, usize, usize),
}

impl<'a> Parser<'a> {
    fn new(source: &'a str) -> Result<Parser<'a>, ParseError> {
        let mut lexer = Lexer::new(source);
        let current = lexer.next_token()?;
        Ok(Parser {
            lexer,
            current,
            nesting: 0,
        })
    }

    fn advance(&mut self) -> Result<(), ParseError> {
        self.current = self.lexer.next_token()?;
        Ok(())
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.current.column, message)
    }

    /// Runs `rule` one nesting level deeper, refusing to go past [`MAX_NESTING`].
    fn nested<T>(
        &mut self,
        rule: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        if self.nesting >= MAX_NESTING {
            return Err(self.error(format!(
                "expression is nested too deeply (more than {MAX_NESTING} levels of parentheses, calls and signs)"
            )));
        }
        self.nesting += 1;
        let result = rule(self);
        self.nesting -= 1;
        result
    }

    /// Builds a node over children of the given heights, refusing trees taller than
    /// [`MAX_HEIGHT`]; `column` is where the offending operator or call is.
    fn node(ast: Ast, child_height: usize, column: usize) -> Parsed {
        let height = child_height + 1;
        if height > MAX_HEIGHT {
            return Err(ParseError::new(
                column,
                format!("expression has too many operators in a row (its tree would be more than {MAX_HEIGHT} levels deep)"),
            ));
        }
        Ok((ast, height))
    }

    /// expression = term { ("+" | "-") term }
    fn expression(&mut self) -> Parsed {
        self.nested(|p| {
            let (mut left, mut height) = p.term()?;
            loop {
                let op = match p.current.token {
                    Token::Plus => BinaryOp::Add,
                    Token::Minus => BinaryOp::Sub,
                    _ => return Ok((left, height)),
                };
                let column = p.current.column;
                p.advance()?;
                let (right, right_height) = p.term()?;
                (left, height) = Self::binary(op, left, right, height.max(right_height), column)?;
            }
        })
    }

    /// term = factor { ("*" | "/" | "//" | "%") factor }
    fn term(&mut self) -> Parsed {
        let (mut left, mut height) = self.factor()?;
        loop {
            let op = match self.current.token {
                Token::Star => BinaryOp::Mul,
                Token::Slash => BinaryOp::Div,
                Token::SlashSlash => BinaryOp::FloorDiv,
                Token::Percent => BinaryOp::Mod,
                _ => return Ok((left, height)),
            };
            let column = self.current.column;
            self.advance()?;
            let (right, right_height) = self.factor()?;
            (left, height) = Self::binary(op, left, right, height.max(right_height), column)?;
        }
    }

    fn binary(op: BinaryOp, left: Ast, right: Ast, child_height: usize, column: usize) -> Parsed {
        let ast = Ast::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        };
        Self::node(ast, child_height, column)
    }

    /// factor = ("+" | "-") factor | power
    ///
    /// A sign binds looser than `**` on its right: `-2 ** 2` is `-(2 ** 2)`.
    fn factor(&mut self) -> Parsed {
        let op = match self.current.token {
            Token::Minus => UnaryOp::Neg,
            Token::Plus => UnaryOp::Pos,
            _ => return self.power(),
        };
        let column = self.current.column;
        self.advance()?;
        let (operand, height) = self.nested(Self::factor)?;
        let ast = Ast::Unary {
            op,
            operand: Box::new(operand),
        };
        Self::node(ast, height, column)
    }

    /// power = primary [ "**" factor ]
    ///
    /// The exponent is a `factor`, which makes `**` right-associative (`2 ** 3 ** 2` is
    /// `2 ** 9`) and lets it take a sign (`2 ** -1`).
    fn power(&mut self) -> Parsed {
        let (base, base_height) = self.primary()?;
        if self.current.token != Token::StarStar {
            return Ok((base, base_height));
        }
        let column = self.current.column;
        self.advance()?;
        let (exponent, exponent_height) = self.nested(Self::factor)?;
        Self::binary(
            BinaryOp::Pow,
            base,
            exponent,
            base_height.max(exponent_height),
            column,
        )
    }

    /// primary = number | alias | call | "(" expression ")"
    fn primary(&mut self) -> Parsed {
        let column = self.current.column;
        let parsed = match self.current.token {
            Token::Number(value) => {
                self.advance()?;
                (Ast::Number(value), 1)
            }
            Token::Ident(name) => {
                self.advance()?;
                if self.current.token == Token::LParen {
                    self.call(name, column)?
                } else {
                    (Self::alias(name, column)?, 1)
                }
            }
            Token::LParen => {
                self.advance()?;
                let inner = self.expression()?;
                self.close(Token::RParen, column, "")?;
                inner
            }
            Token::LBracket => return Err(self.error(list_misplaced())),
            _ => {
                return Err(self.error(format!(
                    "expected a number, a metric alias, a function call or `(`, found {}",
                    self.current.describe()
                )))
            }
        };
        // Python would go on to subscripts and calls of the value; we have neither.
        match self.current.token {
            Token::LBracket => Err(self.error("indexing (`[...]`) is not allowed")),
            Token::LParen => Err(self.error(format!(
                "only the functions {} can be called",
                names::function_list()
            ))),
            _ => Ok(parsed),
        }
    }

    fn alias(name: &str, column: usize) -> Result<Ast, ParseError> {
        if names::is_function(name) {
            let example = match name {
                "min" | "max" => format!("`{name}(a, b)`"),
                "round" => "`round(x)` or `round(x, ndigits)`".to_string(),
                _ => format!("`{name}(x)`"),
            };
            return Err(ParseError::new(
                column,
                format!("`{name}` is a function; call it like {example}"),
            ));
        }
        if let Some(reason) = names::reserved_reason(name) {
            return Err(ParseError::new(column, reason));
        }
        Ok(Ast::Alias(name.to_string()))
    }

    /// Expects the `)` or `]` (`closer`) of something opened at `open_column`.
    fn close(
        &mut self,
        closer: Token<'a>,
        open_column: usize,
        context: &str,
    ) -> Result<(), ParseError> {
        if self.current.token == closer {
            return self.advance();
        }
        let (opener, closing, kind) = if closer == Token::RParen {
            ("(", ")", "parentheses")
        } else {
            ("[", "]", "brackets")
        };
        if self.current.token == Token::End {
            return Err(ParseError::new(
                open_column,
                format!("unbalanced {kind}: this `{opener}` is never closed"),
            ));
        }
        let expected = if context.is_empty() {
            format!("`{closing}` or an operator")
        } else {
            format!("`,` or `{closing}` {context}")
        };
        Err(self.error(format!(
            "expected {expected}, found {}",
            self.current.describe()
        )))
    }

    /// call = name "(" [ argument { "," argument } [ "," ] ] ")"
    ///
    /// Parses any argument list first and checks it against the function afterwards, so
    /// that arity errors can name the function.
    fn call(&mut self, name: &str, column: usize) -> Parsed {
        if !names::is_function(name) {
            return Err(unknown_function(name, column));
        }
        let open_column = self.current.column;
        self.advance()?;
        let context = format!("in the arguments of `{name}`");
        let arguments = self.sequence(Token::RParen, open_column, &context, Self::argument)?;
        build_call(name, column, arguments)
    }

    /// Comma-separated items up to `closer`, a trailing comma allowed as in Python.
    fn sequence<T>(
        &mut self,
        closer: Token<'a>,
        open_column: usize,
        context: &str,
        mut item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        let mut items = Vec::new();
        while self.current.token != closer {
            items.push(item(self)?);
            if self.current.token == Token::Comma {
                self.advance()?;
            } else {
                break;
            }
        }
        self.close(closer, open_column, context)?;
        Ok(items)
    }

    fn argument(&mut self) -> Result<Argument, ParseError> {
        if self.current.token != Token::LBracket {
            let (value, height) = self.expression()?;
            return Ok(Argument::Value(value, height));
        }
        let open_column = self.current.column;
        self.advance()?;
        let values = self.sequence(
            Token::RBracket,
            open_column,
            "in the list",
            Self::expression,
        )?;
        let height = values.iter().map(|(_, h)| *h).max().unwrap_or(0);
        let values = values.into_iter().map(|(v, _)| v).collect();
        Ok(Argument::List(values, height, open_column))
    }
}

fn list_misplaced() -> &'static str {
    "a list `[...]` is only allowed as the single argument of `min` or `max`, as in `max([a, b])`"
}

/// Checks the arguments against what function `name` accepts, and builds its node.
fn build_call(name: &str, column: usize, arguments: Vec<Argument>) -> Parsed {
    let count = arguments.len();
    let min_max = match name {
        "min" => Some(MinMax::Min),
        "max" => Some(MinMax::Max),
        _ => None,
    };
    let mut list = false;
    let mut values = Vec::with_capacity(count);
    let mut height = 0;
    for argument in arguments {
        match argument {
            Argument::Value(value, h) => {
                values.push(value);
                height = height.max(h);
            }
            Argument::List(items, h, list_column) => {
                if min_max.is_none() {
                    return Err(ParseError::new(list_column, list_misplaced()));
                }
                if count != 1 {
                    return Err(ParseError::new(
                        list_column,
                        format!("a list must be the only argument of `{name}`: write `{name}([a, b])` or `{name}(a, b)`"),
                    ));
                }
                list = true;
                values = items;
                height = h;
            }
        }
    }
    let arity_error =
        |expected: &str| ParseError::new(column, format!("`{name}` {expected}, but got {count}"));
    let mut values = values.into_iter();
    let ast = if let Some(function) = min_max {
        let Some(first) = values.next() else {
            return Err(ParseError::new(
                column,
                format!("`{name}` needs at least one value"),
            ));
        };
        Ast::MinMax {
            function,
            first: Box::new(first),
            rest: values.collect(),
            list,
        }
    } else if name == "round" {
        match (values.next(), values.next(), values.next()) {
            (Some(value), ndigits, None) => Ast::Round {
                value: Box::new(value),
                ndigits: ndigits.map(Box::new),
            },
            _ => {
                return Err(arity_error(
                    "takes one or two arguments, `round(x)` or `round(x, ndigits)`",
                ))
            }
        }
    } else {
        let function = Function::from_name(name).ok_or_else(|| unknown_function(name, column))?;
        match (values.next(), values.next()) {
            (Some(argument), None) => Ast::Call {
                function,
                argument: Box::new(argument),
            },
            _ => return Err(arity_error("takes exactly one argument")),
        }
    };
    Parser::node(ast, height, column)
}

fn unknown_function(name: &str, column: usize) -> ParseError {
    ParseError::new(
        column,
        format!(
            "unknown function `{name}`; the functions are {}",
            names::function_list()
        ),
    )
}

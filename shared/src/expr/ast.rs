//! The syntax tree. Its shapes make wrong arities unrepresentable, so evaluation never has
//! to deal with, say, a `sqrt` of two arguments or an empty `max`.

/// A parsed expression.
///
/// Parentheses leave no trace: `(a + b) * c` is a `Mul` whose left operand is an `Add`.
/// Trees built by hand (see [`super::Expr::from_ast`]) should follow what the parser
/// produces: `Number`s finite and non-negative (a minus sign is a [`UnaryOp::Neg`]), and
/// aliases valid under [`super::check_alias`] or one of the [`super::STATE_NAMES`]; otherwise
/// printing cannot round-trip.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    /// A numeric literal.
    Number(f64),
    /// A metric alias (or a state name such as `running_count`), resolved by the lookup at
    /// evaluation time.
    Alias(String),
    /// `-operand` or `+operand`.
    Unary { op: UnaryOp, operand: Box<Ast> },
    /// `left op right`.
    Binary {
        op: BinaryOp,
        left: Box<Ast>,
        right: Box<Ast>,
    },
    /// `abs(x)`, `ceil(x)`, `floor(x)` or `sqrt(x)`.
    Call {
        function: Function,
        argument: Box<Ast>,
    },
    /// `round(value)` or `round(value, ndigits)`.
    Round {
        value: Box<Ast>,
        ndigits: Option<Box<Ast>>,
    },
    /// `min(...)` / `max(...)` over `first` and `rest`. `list` records the written form,
    /// `max([a, b])` (true) or `max(a, b)` (false), so printing reproduces it.
    MinMax {
        function: MinMax,
        first: Box<Ast>,
        rest: Vec<Ast>,
        list: bool,
    },
}

/// Prefix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Pos,
}

/// Infix operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`, true division.
    Div,
    /// `//`, division rounded towards negative infinity.
    FloorDiv,
    /// `%`, remainder with the sign of the divisor.
    Mod,
    /// `**`, right-associative.
    Pow,
}

/// The one-argument functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Abs,
    Ceil,
    Floor,
    Sqrt,
}

/// `min` or `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MinMax {
    Min,
    Max,
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Pos => "+",
        }
    }
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::FloorDiv => "//",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "**",
        }
    }
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::Abs => "abs",
            Function::Ceil => "ceil",
            Function::Floor => "floor",
            Function::Sqrt => "sqrt",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<Function> {
        match name {
            "abs" => Some(Function::Abs),
            "ceil" => Some(Function::Ceil),
            "floor" => Some(Function::Floor),
            "sqrt" => Some(Function::Sqrt),
            _ => None,
        }
    }
}

impl MinMax {
    pub fn name(self) -> &'static str {
        match self {
            MinMax::Min => "min",
            MinMax::Max => "max",
        }
    }
}

impl Ast {
    /// Calls `visit` with every alias, in reading order, duplicates included.
    pub(super) fn for_each_alias<'a>(&'a self, visit: &mut dyn FnMut(&'a str)) {
        match self {
            Ast::Number(_) => {}
            Ast::Alias(name) => visit(name),
            Ast::Unary { operand, .. } => operand.for_each_alias(visit),
            Ast::Binary { left, right, .. } => {
                left.for_each_alias(visit);
                right.for_each_alias(visit);
            }
            Ast::Call { argument, .. } => argument.for_each_alias(visit),
            Ast::Round { value, ndigits } => {
                value.for_each_alias(visit);
                if let Some(ndigits) = ndigits {
                    ndigits.for_each_alias(visit);
                }
            }
            Ast::MinMax { first, rest, .. } => {
                first.for_each_alias(visit);
                for value in rest {
                    value.for_each_alias(visit);
                }
            }
        }
    }
}

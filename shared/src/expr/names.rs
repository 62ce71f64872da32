//! Which identifiers may name a metric alias, and why the others may not.

/// The functions of the language, in the order error messages list them.
pub const FUNCTION_NAMES: [&str; 7] = ["abs", "ceil", "floor", "max", "min", "round", "sqrt"];

/// Python's keywords. Rejecting them up front turns `lambda: 1` or `a if b else c` into a
/// clear message instead of a confusing "unexpected token" further along.
const PYTHON_KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Python built-ins that only make sense as code. They are harmless here (a bare name is
/// just a metric lookup), but an expression mentioning them was almost certainly written
/// for the old `eval`-based implementation, so it is rejected rather than looked up.
const CODE_BUILTINS: [&str; 11] = [
    "breakpoint",
    "compile",
    "delattr",
    "eval",
    "exec",
    "getattr",
    "globals",
    "locals",
    "open",
    "setattr",
    "vars",
];

/// Names an expression reads from the service's live state rather than from a metric source:
/// its current desired and running task counts. They are never aliases.
pub const STATE_NAMES: [&str; 2] = ["desired_count", "running_count"];

/// Whether `name` is one of the [`STATE_NAMES`].
pub fn is_state_name(name: &str) -> bool {
    STATE_NAMES.contains(&name)
}

pub(super) fn is_function(name: &str) -> bool {
    FUNCTION_NAMES.contains(&name)
}

pub(super) fn is_keyword(name: &str) -> bool {
    PYTHON_KEYWORDS.contains(&name)
}

/// Why `name` cannot be used as a metric alias even though it is an identifier
/// (keywords and function names aside, which get messages of their own).
pub(super) fn reserved_reason(name: &str) -> Option<String> {
    if name.starts_with("__") {
        Some(format!(
            "`{name}` is reserved: names starting with `__` cannot be metric aliases"
        ))
    } else if CODE_BUILTINS.contains(&name) {
        Some(format!(
            "`{name}` is reserved: expressions are arithmetic only and cannot run code"
        ))
    } else {
        None
    }
}

pub(super) fn keyword_message(name: &str) -> String {
    format!(
        "`{name}` is a Python keyword; expressions may only use numbers, metric aliases, \
         arithmetic operators and the functions {}",
        function_list()
    )
}

pub(super) fn function_list() -> String {
    let (last, rest) = match FUNCTION_NAMES.split_last() {
        Some(split) => split,
        None => return String::new(),
    };
    format!("{} and {last}", rest.join(", "))
}

pub(super) fn is_identifier_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

pub(super) fn is_identifier_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Checks that `name` can be referenced as a metric alias in an expression.
///
/// A valid alias matches `[A-Za-z_][A-Za-z0-9_]*` and is none of: the seven function
/// names, a Python keyword, a name starting with `__`, one of the Python built-ins that
/// run code (`eval`, `exec`, `compile`, `open`, `globals`, `locals`, `vars`, `getattr`,
/// `setattr`, `delattr`, `breakpoint`), or one of the [`STATE_NAMES`] (which expressions
/// may read, but no source may define). The error is a sentence for the operator.
pub fn check_alias(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let well_formed =
        chars.next().is_some_and(is_identifier_start) && chars.all(is_identifier_continue);
    if !well_formed {
        return Err(format!(
            "`{name}` is not a valid alias: use letters, digits and `_`, not starting with a digit"
        ));
    }
    if is_function(name) {
        return Err(format!(
            "`{name}` is a function name and cannot be a metric alias"
        ));
    }
    if is_keyword(name) {
        return Err(format!(
            "`{name}` is a Python keyword and cannot be a metric alias"
        ));
    }
    if let Some(reason) = reserved_reason(name) {
        return Err(reason);
    }
    let count = match name {
        "desired_count" => "desired",
        "running_count" => "running",
        _ => return Ok(()),
    };
    Err(format!(
        "`{name}` is reserved: expressions read it as the service's {count} task count, from ECS"
    ))
}

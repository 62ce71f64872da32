//! Splits expression text into tokens, on demand, so that errors surface in reading order.

use super::error::ParseError;
use super::names;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token<'a> {
    Number(f64),
    Ident(&'a str),
    Plus,
    Minus,
    Star,
    StarStar,
    Slash,
    SlashSlash,
    Percent,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    End,
}

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spanned<'a> {
    pub token: Token<'a>,
    /// 1-based character position.
    pub column: usize,
    /// The token's text, for messages.
    pub text: &'a str,
}

impl Spanned<'_> {
    /// How a message refers to this token: "`*`", or "the end of the expression".
    pub fn describe(&self) -> String {
        match self.token {
            Token::End => "the end of the expression".to_string(),
            _ => format!("`{}`", self.text),
        }
    }
}

pub(super) struct Lexer<'a> {
    source: &'a str,
    /// Byte offset of the next character; always on a character boundary.
    offset: usize,
    /// 1-based character position of the next character.
    column: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(source: &'a str) -> Lexer<'a> {
        Lexer {
            source,
            offset: 0,
            column: 1,
        }
    }

    fn peek(&self) -> Option<char> {
        self.source.get(self.offset..)?.chars().next()
    }

    fn peek_second(&self) -> Option<char> {
        let mut chars = self.source.get(self.offset..)?.chars();
        chars.next();
        chars.next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.offset += c.len_utf8();
            self.column += 1;
        }
    }

    fn text_from(&self, start: usize) -> &'a str {
        self.source.get(start..self.offset).unwrap_or("")
    }

    pub fn next_token(&mut self) -> Result<Spanned<'a>, ParseError> {
        while self
            .peek()
            .is_some_and(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
        {
            self.bump();
        }
        let start = self.offset;
        let column = self.column;
        let Some(c) = self.peek() else {
            return Ok(Spanned {
                token: Token::End,
                column,
                text: "",
            });
        };
        let token = if c.is_ascii_digit()
            || (c == '.' && self.peek_second().is_some_and(|d| d.is_ascii_digit()))
        {
            self.number(start, column)?
        } else if names::is_identifier_start(c) {
            while self.peek().is_some_and(names::is_identifier_continue) {
                self.bump();
            }
            let name = self.text_from(start);
            if names::is_keyword(name) {
                return Err(ParseError::new(column, names::keyword_message(name)));
            }
            Token::Ident(name)
        } else {
            self.bump();
            match c {
                '+' => Token::Plus,
                '-' => Token::Minus,
                '*' => self.doubled('*', Token::Star, Token::StarStar),
                '/' => self.doubled('/', Token::Slash, Token::SlashSlash),
                '%' => Token::Percent,
                '(' => Token::LParen,
                ')' => Token::RParen,
                '[' => Token::LBracket,
                ']' => Token::RBracket,
                ',' => Token::Comma,
                _ => return Err(self.unexpected_character(c, column)),
            }
        };
        Ok(Spanned {
            token,
            column,
            text: self.text_from(start),
        })
    }

    /// `*` or `**`, `/` or `//`: the longer token wins, as in Python.
    fn doubled(&mut self, c: char, single: Token<'a>, double: Token<'a>) -> Token<'a> {
        if self.peek() == Some(c) {
            self.bump();
            double
        } else {
            single
        }
    }

    /// Python's decimal literals: `3`, `3.5`, `.5`, `5.`, `1e3`, `2.5E-2`, `1_000`.
    fn number(&mut self, start: usize, column: usize) -> Result<Token<'a>, ParseError> {
        let mut has_point = false;
        let mut has_exponent = false;
        if self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.digits(start, column)?;
        }
        if self.peek() == Some('.') {
            has_point = true;
            self.bump();
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.digits(start, column)?;
            }
        }
        if matches!(self.peek(), Some('e' | 'E')) {
            has_exponent = true;
            self.bump();
            if matches!(self.peek(), Some('+' | '-')) {
                self.bump();
            }
            if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(self.invalid_number(start, column, "the exponent has no digits"));
            }
            self.digits(start, column)?;
        }
        // `2x`, `1.5.3`, `1.__class__`, `0x1F`: Python rejects these too.
        if self
            .peek()
            .is_some_and(|c| names::is_identifier_continue(c) || c == '.')
        {
            self.bump();
            return Err(self.invalid_number(
                start,
                column,
                "a number must not run into letters or another `.`",
            ));
        }
        let text = self.text_from(start);
        let digits: String = text.chars().filter(|&c| c != '_').collect();
        if !has_point
            && !has_exponent
            && digits.starts_with('0')
            && digits.chars().any(|c| c != '0')
        {
            return Err(self.invalid_number(
                start,
                column,
                "leading zeros are not allowed in whole numbers",
            ));
        }
        match digits.parse::<f64>() {
            Ok(value) if value.is_finite() => Ok(Token::Number(value)),
            Ok(_) => Err(ParseError::new(
                column,
                format!("number `{text}` is too large"),
            )),
            Err(_) => Err(self.invalid_number(start, column, "it is not a decimal number")),
        }
    }

    /// One or more digits, with single underscores allowed between them.
    fn digits(&mut self, start: usize, column: usize) -> Result<(), ParseError> {
        self.bump();
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_digit() => self.bump(),
                Some('_') => {
                    self.bump();
                    if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                        return Err(self.invalid_number(
                            start,
                            column,
                            "`_` may only appear between digits",
                        ));
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn invalid_number(&self, start: usize, column: usize, why: &str) -> ParseError {
        ParseError::new(
            column,
            format!("invalid number `{}`: {why}", self.text_from(start)),
        )
    }

    fn unexpected_character(&self, c: char, column: usize) -> ParseError {
        let next = self.peek();
        let why = match c {
            '\'' | '"' => "strings are not allowed".to_string(),
            '.' => "attribute access (`.`) is not allowed".to_string(),
            '=' if next == Some('=') => "comparisons (`==`) are not allowed".to_string(),
            '=' => "assignments and keyword arguments (`=`) are not allowed".to_string(),
            '<' | '>' | '!' => "comparisons are not allowed".to_string(),
            ';' => "an expression is a single formula; `;` is not allowed".to_string(),
            ':' => "lambdas, slices and annotations (`:`) are not allowed".to_string(),
            '&' | '|' | '^' | '~' => "bitwise operators are not allowed".to_string(),
            '#' => "comments are not allowed".to_string(),
            '{' | '}' => "sets and dictionaries are not allowed".to_string(),
            _ if c.is_whitespace() => format!("U+{:04X} is not a plain space", u32::from(c)),
            _ => format!(
                "expressions use numbers, metric aliases, `+ - * / // % **`, parentheses and the functions {}",
                names::function_list()
            ),
        };
        ParseError::new(
            column,
            format!("unexpected character `{}`: {why}", c.escape_debug()),
        )
    }
}

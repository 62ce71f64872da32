//! Errors found in cluster files, each with the file, the position and the field path.

use std::fmt;
use std::path::{Path, PathBuf};

/// A 1-based line and column in a YAML file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
}

/// One problem in a cluster file.
///
/// Displays as `file:line:column: path: message` when the position is known,
/// otherwise `file: path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    /// The file.
    pub file: PathBuf,
    /// Where in the file, when known.
    pub position: Option<Position>,
    /// Field path such as `services.worker.events[1].metric` (empty for the whole file).
    pub path: String,
    /// What is wrong, and what to do about it where that helps.
    pub message: String,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(p) = self.position {
            write!(f, ":{}:{}", p.line, p.column)?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for DefinitionError {}

/// Every problem of one file that did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileErrors {
    /// The file.
    pub file: PathBuf,
    /// The cluster it would have defined (the file stem), when it has one.
    pub cluster: Option<String>,
    /// At least one error, in file order.
    pub errors: Vec<DefinitionError>,
}

impl FileErrors {
    pub(crate) fn single(file: &Path, message: impl Into<String>) -> Self {
        FileErrors {
            file: file.to_path_buf(),
            cluster: file.file_stem().map(|s| s.to_string_lossy().into_owned()),
            errors: vec![DefinitionError {
                file: file.to_path_buf(),
                position: None,
                path: String::new(),
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FileErrors {}

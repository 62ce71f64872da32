//! A YAML tree whose every node remembers where it came from.
//!
//! serde-based YAML loaders drop positions and stop at the first error; we need
//! `file:line:column` for every problem, so we build our own small tree from
//! yaml-rust2's parser events. Scalars keep their text and whether they were
//! quoted; their type is decided by the field that reads them (so `metric: 5`
//! is still a valid expression, and `enabled: yes` still a boolean, as it was
//! for the original's PyYAML).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::error::Position;

/// A node and its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub pos: Position,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar; `plain` is false for quoted and block scalars (always strings).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order (duplicates are reported by the loader).
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// Whether this is YAML's null (`~`, `null`, or nothing).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A short description of the node's type, for "expected X, found Y" messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            NodeKind::Seq(_) => "a list".into(),
            NodeKind::Map(_) => "a mapping".into(),
            NodeKind::Scalar { .. } if self.is_null() => "null".into(),
            NodeKind::Scalar { text, .. } => {
                // Control characters escaped: a value never breaks a message's line.
                let shown: String = text
                    .chars()
                    .take(40)
                    .flat_map(|c| {
                        if c.is_control() {
                            c.escape_default().collect::<Vec<_>>()
                        } else {
                            vec![c]
                        }
                    })
                    .collect();
                let ellipsis = if text.chars().nth(40).is_some() {
                    "…"
                } else {
                    ""
                };
                format!("`{shown}{ellipsis}`")
            }
        }
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Position,
    pub message: String,
}

/// Lists and mappings may nest this deep, aliases included; deeper is an error where the limit
/// is passed. Real cluster files nest about 8 levels (a source's `payload` a few more); the
/// limit keeps every recursive walk of the tree (the loader's, `Drop`'s) far from the stack's end.
pub const MAX_DEPTH: usize = 64;

/// Parse one YAML document. An empty file is an empty mapping's absence: `Ok(None)`.
///
/// A leading UTF-8 byte order mark is skipped (editors on Windows write one; positions are
/// counted without it, as the editor shows them). The parser's events are pulled one at a time
/// here rather than through `Parser::load`, which recurses once per nesting level: a file of
/// 20,000 nested lists would overflow the stack before any limit could be checked.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, mark) = parser.next_token().map_err(|e| SyntaxError {
            pos: position(e.marker()),
            message: e.info().to_string(),
        })?;
        if event == Event::StreamEnd {
            break;
        }
        builder.on_event(event, mark);
        if let Some(err) = builder.error.take() {
            return Err(err);
        }
        if builder.documents > 1 {
            return Err(SyntaxError {
                pos: builder
                    .second_doc
                    .unwrap_or(Position { line: 1, column: 1 }),
                message: "a cluster file holds one YAML document; found a second `---`".into(),
            });
        }
    }
    Ok(builder.root)
}

fn position(m: &Marker) -> Position {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Position {
        line: m.line(),
        column: m.col() + 1,
    }
}

/// A collection being built.
enum Open {
    Seq(Node, Vec<Node>, usize),
    Map(Node, Vec<(Node, Node)>, Option<Node>, usize),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    root: Option<Node>,
    /// Anchored nodes with their height (0 for a scalar), which an alias adds to its depth.
    anchors: HashMap<usize, (Node, usize)>,
    documents: usize,
    second_doc: Option<Position>,
    error: Option<SyntaxError>,
    /// Nodes expanded from aliases, bounded so that a "billion laughs" file can't exhaust memory.
    expanded: usize,
}

const MAX_ALIAS_EXPANSION: usize = 10_000;

impl Builder {
    fn push_node(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            let height = height(&node);
            self.anchors.insert(anchor, (node.clone(), height));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(_, items, _)) => items.push(node),
            Some(Open::Map(_, entries, pending_key, _)) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }

    fn count(node: &Node) -> usize {
        match &node.kind {
            NodeKind::Scalar { .. } => 1,
            NodeKind::Seq(items) => 1 + items.iter().map(Self::count).sum::<usize>(),
            NodeKind::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| Self::count(k) + Self::count(v))
                    .sum::<usize>()
            }
        }
    }

    /// Refuses a collection (or an aliased one of `height`) that would end deeper than
    /// [`MAX_DEPTH`] where it starts.
    fn within_depth(&mut self, height: usize, pos: Position) -> bool {
        if self.stack.len() + height <= MAX_DEPTH {
            return true;
        }
        self.error = Some(SyntaxError {
            pos,
            message: format!(
                "lists and mappings nest more than {MAX_DEPTH} levels deep here; a cluster file needs far fewer"
            ),
        });
        false
    }

    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let pos = position(&mark);
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents == 2 {
                    self.second_doc = Some(pos);
                }
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = matches!(style, TScalarStyle::Plain);
                let node = Node {
                    kind: NodeKind::Scalar { text, plain },
                    pos,
                };
                self.push_node(node, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                if self.within_depth(1, pos) {
                    let node = Node {
                        kind: NodeKind::Seq(Vec::new()),
                        pos,
                    };
                    self.stack.push(Open::Seq(node, Vec::new(), anchor));
                }
            }
            Event::MappingStart(anchor, _) => {
                if self.within_depth(1, pos) {
                    let node = Node {
                        kind: NodeKind::Map(Vec::new()),
                        pos,
                    };
                    self.stack.push(Open::Map(node, Vec::new(), None, anchor));
                }
            }
            Event::SequenceEnd => {
                if let Some(Open::Seq(mut node, items, anchor)) = self.stack.pop() {
                    node.kind = NodeKind::Seq(items);
                    self.push_node(node, anchor);
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(mut node, entries, _, anchor)) = self.stack.pop() {
                    // A block mapping is only recognised at its first `:`, so its mark
                    // lies after the first key; report it where the mapping begins.
                    if let Some((first_key, _)) = entries.first() {
                        node.pos = node.pos.min(first_key.pos);
                    }
                    node.kind = NodeKind::Map(entries);
                    self.push_node(node, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some((mut node, height)) => {
                    self.expanded += Self::count(&node);
                    if self.expanded > MAX_ALIAS_EXPANSION {
                        self.error = Some(SyntaxError {
                            pos,
                            message: "aliases expand to too many nodes".into(),
                        });
                        return;
                    }
                    if !self.within_depth(height, pos) {
                        return;
                    }
                    // Errors inside an aliased node point at the alias's use.
                    node.pos = pos;
                    self.push_node(node, 0);
                }
                None => {
                    self.error = Some(SyntaxError {
                        pos,
                        message: "alias refers to an unknown anchor".into(),
                    })
                }
            },
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

/// Levels of lists and mappings in `node` (0 for a scalar). Recursion is bounded: every tree
/// built here is at most [`MAX_DEPTH`] deep.
fn height(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar { .. } => 0,
        NodeKind::Seq(items) => 1 + items.iter().map(height).max().unwrap_or(0),
        NodeKind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| height(k).max(height(v)))
                .max()
                .unwrap_or(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let root = parse("a: 1\nb:\n  - x\n  - 'y'\n").unwrap().unwrap();
        let NodeKind::Map(entries) = &root.kind else {
            panic!("map")
        };
        assert_eq!(entries[0].0.pos, Position { line: 1, column: 1 });
        assert_eq!(entries[0].1.pos, Position { line: 1, column: 4 });
        let NodeKind::Seq(items) = &entries[1].1.kind else {
            panic!("seq")
        };
        assert_eq!(items[1].pos, Position { line: 4, column: 5 });
        assert_eq!(
            items[1].kind,
            NodeKind::Scalar {
                text: "y".into(),
                plain: false
            }
        );
    }

    #[test]
    fn syntax_errors_carry_positions() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1, "{err:?}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn anchors_and_aliases_expand() {
        let root = parse("a: &x {k: 1}\nb: *x\n").unwrap().unwrap();
        let NodeKind::Map(entries) = &root.kind else {
            panic!("map")
        };
        assert_eq!(entries[0].1.kind, entries[1].1.kind);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("too many"), "{err:?}");
    }

    /// Runs `f` on a thread with a small stack: the old tree builder (yaml-rust2's recursive
    /// `Parser::load`) overflowed it on the deep files below, which aborts the whole process.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .expect("a thread")
            .join()
            .expect("no panic")
    }

    #[test]
    fn twenty_thousand_nested_lists_are_an_error_where_the_limit_is_passed() {
        // 40 KB on one line: `- - - - ... x`.
        let text = format!("{}x\n", "- ".repeat(20_000));
        let err = on_small_stack(move || parse(&text)).unwrap_err();
        assert!(err.message.contains("more than 64 levels"), "{err:?}");
        // The 65th `- ` starts at column 2 × 64 + 1.
        assert_eq!(
            err.pos,
            Position {
                line: 1,
                column: 129
            }
        );
    }

    #[test]
    fn ten_thousand_nested_mappings_are_an_error_where_the_limit_is_passed() {
        // Explicit keys nest mappings on one line: `? ? ? ... x`, 20 KB.
        let text = format!("{}x\n", "? ".repeat(10_000));
        let err = on_small_stack(move || parse(&text)).unwrap_err();
        assert!(err.message.contains("more than 64 levels"), "{err:?}");
        assert_eq!(err.pos.line, 1);
    }

    #[test]
    fn the_depth_limit_counts_levels_exactly() {
        let nested = |n: usize| format!("{}x{}", "[".repeat(n), "]".repeat(n));
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        let err = parse(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(
            err.pos,
            Position {
                line: 1,
                column: MAX_DEPTH + 1
            }
        );
    }

    #[test]
    fn aliases_count_towards_the_depth() {
        let half = MAX_DEPTH / 2 + 1;
        let text = format!(
            "a: &x {}x{}\nb: {}*x{}\n",
            "[".repeat(half),
            "]".repeat(half),
            "[".repeat(half),
            "]".repeat(half)
        );
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("levels"), "{err:?}");
        assert_eq!(err.pos.line, 2);
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let root = parse("\u{feff}a: 1\n").unwrap().unwrap();
        let NodeKind::Map(entries) = &root.kind else {
            panic!("map")
        };
        assert_eq!(
            entries[0].0.kind,
            NodeKind::Scalar {
                text: "a".into(),
                plain: true
            }
        );
        assert_eq!(entries[0].0.pos, Position { line: 1, column: 1 });
    }

    #[test]
    fn empty_and_multi_document_files() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }
}

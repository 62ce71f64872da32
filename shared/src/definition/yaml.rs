//! A YAML tree whose every node remembers where it came from.
//!
//! serde-based YAML loaders drop positions and stop at the first error; we need
//! `file:line:column` for every problem, so we build our own small tree from
//! yaml-rust2's parser events. Scalars keep their text and whether they were
//! quoted; their type is decided by the field that reads them (so `metric: 5`
//! is still a valid expression, and `enabled: yes` still a boolean, as it was
//! for the original's PyYAML).

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
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
                let shown: String = text.chars().take(40).collect();
                let ellipsis = if text.chars().count() > 40 { "…" } else { "" };
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

/// Parse one YAML document. An empty file is an empty mapping's absence: `Ok(None)`.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, true).map_err(|e| SyntaxError {
        pos: position(e.marker()),
        message: e.info().to_string(),
    })?;
    if let Some(err) = builder.error {
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
    anchors: HashMap<usize, Node>,
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
            self.anchors.insert(anchor, node.clone());
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
}

impl MarkedEventReceiver for Builder {
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
                let node = Node {
                    kind: NodeKind::Seq(Vec::new()),
                    pos,
                };
                self.stack.push(Open::Seq(node, Vec::new(), anchor));
            }
            Event::MappingStart(anchor, _) => {
                let node = Node {
                    kind: NodeKind::Map(Vec::new()),
                    pos,
                };
                self.stack.push(Open::Map(node, Vec::new(), None, anchor));
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
                Some(mut node) => {
                    self.expanded += Self::count(&node);
                    if self.expanded > MAX_ALIAS_EXPANSION {
                        self.error = Some(SyntaxError {
                            pos,
                            message: "aliases expand to too many nodes".into(),
                        });
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

    #[test]
    fn empty_and_multi_document_files() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
    }
}

//! What a document costs, measured before anything expands it.
//!
//! async-graphql's own walks (its recursion check, the depth and complexity visitors) inline
//! every fragment spread where it stands: a cycle of spreads overflows the stack, and a chain
//! of fragments that each spread the next twice expands to 2^N selections. This module
//! measures a document in time linear in its text: each fragment is measured once, in an
//! order where every fragment comes after the fragments it spreads, and a spread adds the
//! measure of its fragment. A cycle is refused here, before any walk follows it.
//!
//! The measures are those of async-graphql (complexity counts each field but `__typename`,
//! depth the deepest nesting of fields), so a document it would accept is accepted here too;
//! `selections` also counts spreads, inline fragments and `__typename`, which bounds the
//! work of every walk that runs after this one.

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Pos, ServerError};

/// The size of a document (or a part of one) with every fragment spread inlined.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Fields selected, `__typename` aside (async-graphql's complexity with its default of one
    /// per field).
    pub complexity: usize,
    /// The deepest nesting of fields.
    pub depth: usize,
    /// Every selection: fields, `__typename`, spreads and inline fragments.
    pub selections: usize,
}

impl Cost {
    fn add(&mut self, other: Cost) {
        self.complexity = self.complexity.saturating_add(other.complexity);
        self.depth = self.depth.max(other.depth);
        self.selections = self.selections.saturating_add(other.selections);
    }
}

/// The cost of every operation of `document` together (async-graphql checks its limits over the
/// whole document), or the error of a fragment that spreads itself.
pub fn measure(document: &ExecutableDocument) -> Result<Cost, ServerError> {
    let order = fragment_order(document)?;
    let mut fragments: HashMap<&Name, Cost> = HashMap::with_capacity(order.len());
    for name in order {
        let cost = set_cost(
            &document.fragments[name].node.selection_set.node,
            &fragments,
        );
        fragments.insert(name, cost);
    }
    let mut total = Cost::default();
    for (_, operation) in document.operations.iter() {
        total.add(set_cost(&operation.node.selection_set.node, &fragments));
    }
    Ok(total)
}

/// The cost of one selection set, with the cost of the fragments it spreads already known
/// (a spread of an unknown fragment costs nothing here; validation refuses it). The recursion
/// follows the nesting of one selection set, which the parser bounds (64 levels).
fn set_cost(set: &SelectionSet, fragments: &HashMap<&Name, Cost>) -> Cost {
    let mut cost = Cost::default();
    for item in &set.items {
        cost.selections = cost.selections.saturating_add(1);
        match &item.node {
            Selection::Field(field) => {
                let inner = set_cost(&field.node.selection_set.node, fragments);
                if field.node.name.node == "__typename" {
                    cost.selections = cost.selections.saturating_add(inner.selections);
                } else {
                    cost.add(Cost {
                        complexity: inner.complexity.saturating_add(1),
                        depth: inner.depth + 1,
                        selections: inner.selections,
                    });
                }
            }
            Selection::InlineFragment(fragment) => {
                cost.add(set_cost(&fragment.node.selection_set.node, fragments))
            }
            Selection::FragmentSpread(spread) => {
                if let Some(spread) = fragments.get(&spread.node.fragment_name.node) {
                    cost.add(*spread);
                }
            }
        }
    }
    cost
}

/// The names of the fragments spread directly in a selection set.
fn spreads<'d>(set: &'d SelectionSet, out: &mut Vec<(&'d Name, Pos)>) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => spreads(&field.node.selection_set.node, out),
            Selection::InlineFragment(fragment) => spreads(&fragment.node.selection_set.node, out),
            Selection::FragmentSpread(spread) => {
                out.push((&spread.node.fragment_name.node, item.pos))
            }
        }
    }
}

/// The document's fragments, each after every fragment it spreads; a cycle is an error at the
/// spread that closes it. An iterative depth-first walk over fragments numbered once, so that a
/// chain of thousands of fragments uses no stack and hashes each name once.
fn fragment_order(document: &ExecutableDocument) -> Result<Vec<&Name>, ServerError> {
    // Sorted, so that of several cycles the same one is always named.
    let mut names: Vec<&Name> = document.fragments.keys().collect();
    names.sort();
    let index: HashMap<&Name, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let edges: Vec<Vec<(usize, Pos)>> = names
        .iter()
        .map(|name| {
            let mut out = Vec::new();
            spreads(&document.fragments[*name].node.selection_set.node, &mut out);
            out.into_iter()
                .filter_map(|(to, pos)| Some((*index.get(to)?, pos)))
                .collect()
        })
        .collect();
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut marks = vec![NEW; names.len()];
    let mut order = Vec::with_capacity(names.len());
    for root in 0..names.len() {
        if marks[root] != NEW {
            continue;
        }
        // (fragment, index of its next edge to follow)
        let mut stack = vec![(root, 0usize)];
        marks[root] = OPEN;
        while let Some((at, next)) = stack.last_mut() {
            let at = *at;
            match edges[at].get(*next) {
                Some(&(to, pos)) => {
                    *next += 1;
                    match marks[to] {
                        OPEN => {
                            return Err(ServerError::new(
                                format!("Cannot spread fragment \"{}\" within itself", names[to]),
                                Some(pos),
                            ))
                        }
                        DONE => {}
                        _ => {
                            marks[to] = OPEN;
                            stack.push((to, 0));
                        }
                    }
                }
                None => {
                    marks[at] = DONE;
                    order.push(names[at]);
                    stack.pop();
                }
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(query: &str) -> Result<Cost, String> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        measure(&document).map_err(|e| e.message)
    }

    #[test]
    fn counts_as_if_inlined() {
        let measured =
            cost("{ a { b c } ...F } fragment F on Query { d { e { f } } __typename }").unwrap();
        assert_eq!(measured.complexity, 6);
        assert_eq!(measured.depth, 3);
        assert_eq!(measured.selections, 8);
    }

    #[test]
    fn cycles_are_refused() {
        assert_eq!(
            cost("{ ...A } fragment A on Query { ...A }").unwrap_err(),
            "Cannot spread fragment \"A\" within itself"
        );
        assert!(
            cost("{ ...A } fragment A on Query { x { ...B } } fragment B on X { ...A }")
                .unwrap_err()
                .contains("within itself")
        );
    }

    #[test]
    fn doubling_chains_saturate_without_expanding() {
        let mut query = String::from("{ ...F0 }");
        for i in 0..200 {
            query.push_str(&format!(
                " fragment F{i} on Query {{ a ...F{n} ...F{n} }}",
                n = i + 1
            ));
        }
        query.push_str(" fragment F200 on Query { a }");
        let measured = cost(&query).unwrap();
        assert_eq!(measured.complexity, usize::MAX);
        assert_eq!(measured.selections, usize::MAX);
    }

    #[test]
    fn long_chains_use_no_stack() {
        let mut query = String::from("{ ...F0 }");
        for i in 0..20_000 {
            query.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        query.push_str(" fragment F20000 on Query { ...F0 }");
        assert!(cost(&query).unwrap_err().contains("within itself"));
    }
}

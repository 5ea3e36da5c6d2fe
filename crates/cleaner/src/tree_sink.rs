//! Parsing into scraper's `Html` with a tree sink that moves children one
//! by one. scraper's own sink moves them with ego-tree's
//! `reparent_from_id_append`, which in ego-tree 0.10 gives only the first
//! and last moved child their new parent (rust-scraper/ego-tree#44): when
//! the parser's adoption agency (misnested `<a>`, `<b>`...) moves three or
//! more children, later moves corrupt the tree and whole subtrees, with the
//! story in them, drop out of the document.
//!
//! Everything else is scraper's sink, delegated to as written there.

use std::borrow::Cow;
use std::cell::{Ref, RefCell};

use ego_tree::NodeId;
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::{local_name, namespace_url, ns, Attribute, QualName};
use scraper::node::{Comment, Doctype, Element, ProcessingInstruction, Text};
use scraper::{Html, Node};

/// `Html::parse_document`, with children moved correctly.
pub fn parse_document(text: &str) -> Html {
    html5ever::driver::parse_document(
        RepairedSink(RefCell::new(Html::new_document())),
        Default::default(),
    )
    .one(text)
}

struct RepairedSink(RefCell<Html>);

impl TreeSink for RepairedSink {
    type Output = Html;
    type Handle = NodeId;
    type ElemName<'a> = Ref<'a, QualName>;

    fn finish(self) -> Html {
        self.0.into_inner()
    }

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn set_quirks_mode(&self, mode: QuirksMode) {
        self.0.borrow_mut().quirks_mode = mode;
    }

    fn get_document(&self) -> NodeId {
        self.0.borrow().tree.root().id()
    }

    fn same_node(&self, x: &NodeId, y: &NodeId) -> bool {
        x == y
    }

    fn elem_name<'a>(&'a self, target: &NodeId) -> Ref<'a, QualName> {
        Ref::map(self.0.borrow(), |html| {
            &html
                .tree
                .get(*target)
                .and_then(|node| node.value().as_element())
                .expect("the parser asks names of elements only")
                .name
        })
    }

    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, _: ElementFlags) -> NodeId {
        let template = name.ns == ns!(html) && name.local == local_name!("template");
        let mut html = self.0.borrow_mut();
        let mut node = html.tree.orphan(Node::Element(Element::new(name, attrs)));
        if template {
            node.append(Node::Fragment);
        }
        node.id()
    }

    fn create_comment(&self, text: StrTendril) -> NodeId {
        let mut html = self.0.borrow_mut();
        html.tree
            .orphan(Node::Comment(Comment { comment: text }))
            .id()
    }

    fn create_pi(&self, target: StrTendril, data: StrTendril) -> NodeId {
        let mut html = self.0.borrow_mut();
        html.tree
            .orphan(Node::ProcessingInstruction(ProcessingInstruction {
                target,
                data,
            }))
            .id()
    }

    fn append_doctype_to_document(
        &self,
        name: StrTendril,
        public_id: StrTendril,
        system_id: StrTendril,
    ) {
        let doctype = Doctype {
            name,
            public_id,
            system_id,
        };
        self.0
            .borrow_mut()
            .tree
            .root_mut()
            .append(Node::Doctype(doctype));
    }

    fn append(&self, parent: &NodeId, child: NodeOrText<NodeId>) {
        let mut html = self.0.borrow_mut();
        let Some(mut parent) = html.tree.get_mut(*parent) else {
            return;
        };
        match child {
            NodeOrText::AppendNode(id) => {
                parent.append_id(id);
            }
            NodeOrText::AppendText(text) => {
                let merged = parent
                    .last_child()
                    .is_some_and(|mut last| match last.value() {
                        Node::Text(t) => {
                            t.text.push_tendril(&text);
                            true
                        }
                        _ => false,
                    });
                if !merged {
                    parent.append(Node::Text(Text { text }));
                }
            }
        }
    }

    fn append_before_sibling(&self, sibling: &NodeId, new_node: NodeOrText<NodeId>) {
        let mut html = self.0.borrow_mut();
        if let NodeOrText::AppendNode(id) = new_node {
            if let Some(mut node) = html.tree.get_mut(id) {
                node.detach();
            }
        }
        let Some(mut sibling) = html.tree.get_mut(*sibling) else {
            return;
        };
        if sibling.parent().is_none() {
            return;
        }
        match new_node {
            NodeOrText::AppendNode(id) => {
                sibling.insert_id_before(id);
            }
            NodeOrText::AppendText(text) => {
                let merged =
                    sibling
                        .prev_sibling()
                        .is_some_and(|mut previous| match previous.value() {
                            Node::Text(t) => {
                                t.text.push_tendril(&text);
                                true
                            }
                            _ => false,
                        });
                if !merged {
                    sibling.insert_before(Node::Text(Text { text }));
                }
            }
        }
    }

    fn append_based_on_parent_node(
        &self,
        element: &NodeId,
        prev_element: &NodeId,
        child: NodeOrText<NodeId>,
    ) {
        let has_parent = self
            .0
            .borrow()
            .tree
            .get(*element)
            .is_some_and(|node| node.parent().is_some());
        if has_parent {
            self.append_before_sibling(element, child)
        } else {
            self.append(prev_element, child)
        }
    }

    fn remove_from_parent(&self, target: &NodeId) {
        if let Some(mut node) = self.0.borrow_mut().tree.get_mut(*target) {
            node.detach();
        }
    }

    /// The fix: each child is appended on its own, which detaches it from
    /// its old parent and gives it the new one.
    fn reparent_children(&self, node: &NodeId, new_parent: &NodeId) {
        let mut html = self.0.borrow_mut();
        let children: Vec<NodeId> = match html.tree.get(*node) {
            Some(node) => node.children().map(|child| child.id()).collect(),
            None => return,
        };
        let Some(mut new_parent) = html.tree.get_mut(*new_parent) else {
            return;
        };
        for child in children {
            new_parent.append_id(child);
        }
    }

    fn add_attrs_if_missing(&self, target: &NodeId, attrs: Vec<Attribute>) {
        let mut html = self.0.borrow_mut();
        let Some(mut node) = html.tree.get_mut(*target) else {
            return;
        };
        let Node::Element(element) = node.value() else {
            return;
        };
        for attr in attrs {
            if let Err(at) = element
                .attrs
                .binary_search_by(|(name, _)| name.cmp(&attr.name))
            {
                element.attrs.insert(at, (attr.name, attr.value));
            }
        }
    }

    fn get_template_contents(&self, target: &NodeId) -> NodeId {
        self.0
            .borrow()
            .tree
            .get(*target)
            .and_then(|node| node.first_child())
            .map(|contents| contents.id())
            .expect("a template element holds its contents fragment")
    }

    fn mark_script_already_started(&self, _node: &NodeId) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text reachable from the document root.
    fn text_of(html: &Html) -> String {
        html.tree
            .root()
            .descendants()
            .filter_map(|n| n.value().as_text().map(|t| t.to_string()))
            .collect()
    }

    #[test]
    fn misnested_formatting_keeps_every_subtree() {
        let page = "<b><a href=x><div>1<a href=x><div>2</a>3</b>4<p>end</p>";
        let repaired = parse_document(page);
        assert_eq!(text_of(&repaired), "1234end");
        assert_eq!(
            repaired.tree.nodes().count(),
            repaired.tree.root().descendants().count(),
            "nodes fell out of the document"
        );
    }

    #[test]
    fn ordinary_pages_parse_as_scraper_parses_them() {
        let page = "<!doctype html><html lang=en><head><title>T</title></head><body>\
                    <p>a <b>b <i>c</b> d</i><table><tr><td>x<div>y</table><template><p>t</template>";
        assert_eq!(
            parse_document(page).html(),
            Html::parse_document(page).html()
        );
    }
}

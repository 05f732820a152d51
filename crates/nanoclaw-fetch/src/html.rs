//! Readable text, links, title and description out of an HTML page (tools.md §4.3).
//!
//! Parsing is html5ever's (through `scraper`): the same HTML5 algorithm browsers use, so broken
//! markup yields the tree a browser would show. The tree is walked iteratively (a page nested
//! thousands deep cannot overflow the stack).

use ego_tree::iter::Edge;
use reqwest::Url;
use scraper::{Html, Node};

/// Elements whose content is never part of the readable text: nanoClaw's `script`, `style`,
/// `nav`, `footer`, `header`, plus what a browser does not show as text.
const DROPPED: &[&str] = &[
    "script", "style", "nav", "footer", "header", "noscript", "template", "svg", "math", "iframe",
    "object", "embed", "canvas", "head", "select", "button",
];

/// Elements that start a new line in the text (everything else flows inline).
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "br",
    "caption",
    "dd",
    "details",
    "dialog",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "main",
    "menu",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

/// One link of the page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    /// The anchor's text, whitespace collapsed.
    pub text: String,
    /// The target, made absolute against the page's URL.
    pub href: String,
}

/// A parsed page.
pub struct Page {
    doc: Html,
}

impl Page {
    /// Parses an HTML document.
    ///
    /// The HTML5 tree builder scans its stack of open elements for many tags, so a page
    /// nesting hundreds of thousands of elements (2 MiB of `<div>`) takes quadratic time. Such
    /// a page is reduced to its tag-stripped text first (no links or title then).
    pub fn parse(html: &str) -> Self {
        if nesting_estimate(html) > MAX_NESTING {
            let text = linear_text(html);
            let mut doc = String::with_capacity(text.len() + 32);
            doc.push_str("<html><body><pre>");
            for c in text.chars() {
                match c {
                    '<' => doc.push_str("&lt;"),
                    '&' => doc.push_str("&amp;"),
                    c => doc.push(c),
                }
            }
            doc.push_str("</pre></body></html>");
            return Self {
                doc: Html::parse_document(&doc),
            };
        }
        Self {
            doc: Html::parse_document(html),
        }
    }

    /// The `<title>`, trimmed and whitespace-collapsed (empty when missing).
    pub fn title(&self) -> String {
        for node in self.doc.tree.root().descendants() {
            if let Node::Element(el) = node.value()
                && el.name() == "title"
            {
                let mut raw = String::new();
                for child in node.descendants() {
                    if let Node::Text(t) = child.value() {
                        raw.push_str(t);
                    }
                }
                return collapse(&raw);
            }
        }
        String::new()
    }

    /// `<meta name="description" content>`, trimmed (empty when missing).
    pub fn description(&self) -> String {
        for node in self.doc.tree.root().descendants() {
            if let Node::Element(el) = node.value()
                && el.name() == "meta"
                && el
                    .attr("name")
                    .is_some_and(|n| n.eq_ignore_ascii_case("description"))
            {
                return el.attr("content").map(collapse).unwrap_or_default();
            }
        }
        String::new()
    }

    /// The readable text: dropped elements left out, one line per block, whitespace inside a
    /// line collapsed, empty lines removed.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut line = String::new();
        let mut skip_depth = 0usize;
        let mut pre_depth = 0usize;
        for edge in self.doc.tree.root().traverse() {
            match edge {
                Edge::Open(node) => match node.value() {
                    Node::Element(el) => {
                        let name = el.name();
                        if skip_depth > 0 || DROPPED.contains(&name) || is_hidden(el) {
                            skip_depth += 1;
                        } else if BLOCKS.contains(&name) {
                            flush(&mut out, &mut line);
                            if name == "pre" {
                                pre_depth += 1;
                            }
                        }
                    }
                    Node::Text(t) if skip_depth == 0 => {
                        if pre_depth > 0 {
                            // Preformatted text keeps its lines.
                            let mut parts = t.split('\n');
                            if let Some(first) = parts.next() {
                                line.push_str(first);
                            }
                            for part in parts {
                                flush(&mut out, &mut line);
                                line.push_str(part);
                            }
                        } else {
                            line.push_str(t);
                        }
                    }
                    _ => {}
                },
                Edge::Close(node) => {
                    if let Node::Element(el) = node.value() {
                        if skip_depth > 0 {
                            skip_depth -= 1;
                        } else if BLOCKS.contains(&el.name()) {
                            flush(&mut out, &mut line);
                            if el.name() == "pre" {
                                pre_depth = pre_depth.saturating_sub(1);
                            }
                        }
                    }
                }
            }
        }
        flush(&mut out, &mut line);
        out
    }

    /// Anchors with text and a target that is not a fragment or `javascript:`, in document
    /// order, at most `limit`, targets made absolute against `base` (unresolvable ones dropped).
    pub fn links(&self, base: &Url, limit: usize) -> Vec<Link> {
        let mut links = Vec::new();
        for node in self.doc.tree.root().descendants() {
            if links.len() >= limit {
                break;
            }
            let Node::Element(el) = node.value() else {
                continue;
            };
            if el.name() != "a" {
                continue;
            }
            let Some(href) = el.attr("href").map(str::trim) else {
                continue;
            };
            if href.starts_with('#')
                || href
                    .get(..11)
                    .is_some_and(|p| p.eq_ignore_ascii_case("javascript:"))
            {
                continue;
            }
            let mut raw = String::new();
            for child in node.descendants() {
                if let Node::Text(t) = child.value() {
                    raw.push_str(t);
                }
            }
            let text = collapse(&raw);
            if text.is_empty() {
                continue;
            }
            let Ok(abs) = base.join(href) else {
                continue;
            };
            links.push(Link {
                text,
                href: abs.to_string(),
            });
        }
        links
    }
}

/// Deepest element nesting parsed as a tree; deeper pages are reduced to text first.
const MAX_NESTING: usize = 1500;

/// Elements not counted for nesting: those without an end tag, and those whose end tag may be
/// left out (a page of unclosed `<li>`s or `<p>`s is flat, the parser closes them itself).
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead",
    "tbody", "tfoot", "colgroup", "rt", "rp",
];

/// The deepest run of start tags over end tags (void and self-closed tags not counted): an
/// upper bound of the tree's depth, give or take implied end tags.
fn nesting_estimate(html: &str) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'<') {
        i += off + 1;
        match bytes.get(i) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(b) if b.is_ascii_alphabetic() => {
                let end = bytes[i..]
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .map_or(bytes.len(), |e| i + e);
                let name = html[i..end].to_ascii_lowercase();
                let close = bytes[end..]
                    .iter()
                    .position(|&b| b == b'>')
                    .map(|e| end + e);
                let self_closed = close.is_some_and(|c| c > 0 && bytes[c - 1] == b'/');
                if !VOID.contains(&name.as_str()) && !self_closed {
                    depth += 1;
                    max = max.max(depth);
                }
            }
            _ => {}
        }
    }
    max
}

/// Text of a page without parsing it as a tree: tags dropped (block-ish ones become line
/// breaks), `script`/`style` contents skipped, a few entities decoded.
fn linear_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut out = String::with_capacity(html.len() / 2);
    let mut unclosed = [false; 2];
    let mut i = 0;
    while i < html.len() {
        let Some(off) = html[i..].find('<') else {
            out.push_str(&html[i..]);
            break;
        };
        out.push_str(&html[i..i + off]);
        i += off;
        let end = html[i..].find('>').map_or(html.len(), |e| i + e + 1);
        let tag = &lower[i..end];
        let mut skip_to = None;
        for (k, name) in ["script", "style"].iter().enumerate() {
            // Once an end tag is missing, later searches would be missing it too: remembering
            // that keeps a page of unclosed `<script>`s linear.
            if !unclosed[k] && tag.starts_with(&format!("<{name}")) {
                match lower[end..].find(&format!("</{name}")) {
                    Some(e) => skip_to = Some(end + e),
                    None => unclosed[k] = true,
                }
            }
        }
        out.push('\n');
        i = skip_to.unwrap_or(end);
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let mut text = String::new();
    for line in decoded.lines() {
        let line = collapse(line);
        if !line.is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&line);
        }
    }
    text
}

fn is_hidden(el: &scraper::node::Element) -> bool {
    el.attr("hidden").is_some()
        || el
            .attr("aria-hidden")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Ends the current line: collapsed, and kept only when not empty.
fn flush(out: &mut String, line: &mut String) {
    let collapsed = collapse(line);
    line.clear();
    if collapsed.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&collapsed);
}

/// Whitespace runs become one space; the ends are trimmed.
fn collapse(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r##"<!doctype html><html><head><title>  The  Title </title>
        <meta name="Description" content=" About things. ">
        <style>body{color:red}</style><script>var secret = 1;</script></head>
        <body><header><a href="/home">Home</a></header>
        <nav><a href="/nav">Nav link</a></nav>
        <h1>Heading</h1>
        <p>Hello <b>bold</b>   world.</p>
        <div hidden>invisible</div>
        <ul><li>one</li><li>two <a href="rel/page?q=1">relative</a></li></ul>
        <a href="#top">fragment</a><a href="JavaScript:alert(1)">js</a><a href="https://x.example/">  </a>
        <pre>line 1
line 2</pre>
        <noscript>enable js</noscript>
        <footer>Footer text</footer></body></html>"##;

    #[test]
    fn text_drops_chrome_and_keeps_blocks() {
        let page = Page::parse(PAGE);
        assert_eq!(
            page.text(),
            "Heading\nHello bold world.\none\ntwo relative\nfragmentjs\nline 1\nline 2"
        );
        assert_eq!(page.title(), "The Title");
        assert_eq!(page.description(), "About things.");
    }

    #[test]
    fn links_are_absolute_and_filtered() {
        let page = Page::parse(PAGE);
        let base = Url::parse("http://site.example/dir/index.html").unwrap();
        let links = page.links(&base, 50);
        let hrefs: Vec<_> = links.iter().map(|l| l.href.as_str()).collect();
        assert_eq!(
            hrefs,
            [
                "http://site.example/home",
                "http://site.example/nav",
                "http://site.example/dir/rel/page?q=1"
            ]
        );
        assert_eq!(links[0].text, "Home");
        assert_eq!(page.links(&base, 1).len(), 1);
    }

    #[test]
    fn pathological_nesting_is_reduced_to_text() {
        // 2 MiB of open tags: parsed as a tree this takes minutes.
        let html = "<div>".repeat(400_000) + "deep <b>text</b><script>x()</script>";
        assert!(nesting_estimate(&html) > MAX_NESTING);
        let page = Page::parse(&html);
        assert_eq!(page.text(), "deep\ntext");
        assert!(nesting_estimate(PAGE) < 10);
        let unclosed = "<script>".repeat(200_000);
        assert_eq!(linear_text(&unclosed), "");
        assert_eq!(
            nesting_estimate("<div><br><img src=x/><input/><p>a<li>b</div>"),
            1
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let html = "<div>".repeat(5_000) + "deep" + &"</div>".repeat(5_000);
        assert_eq!(Page::parse(&html).text(), "deep");
    }
}

//! The result objects of `fetch_page` and `crawl_batch` (tools.md §4.3–4.4).

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fetch::{BodyKind, Fetched, Fetcher};
use crate::html::Page;

/// Most links in `links` mode (nanoClaw's figure).
pub const LINKS_MAX: usize = 50;
/// Most links in `structured` mode.
pub const STRUCTURED_LINKS_MAX: usize = 20;
/// Most characters of text in `structured` mode.
pub const STRUCTURED_TEXT_MAX: usize = 5000;
/// Most URLs in one `crawl_batch` call.
pub const BATCH_MAX: usize = 10;
/// Pages of one batch fetched at once.
pub const BATCH_CONCURRENCY: usize = 5;
/// Longest link text kept.
const LINK_TEXT_MAX: usize = 300;

/// What `extract_type` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extract {
    /// Readable text.
    Text,
    /// Links.
    Links,
    /// Title, description, some text and some links.
    Structured,
}

impl Extract {
    /// From the argument; nanoClaw treated any unknown value as `structured`.
    pub fn from_arg(value: Option<&str>) -> Self {
        match value {
            None | Some("text") => Self::Text,
            Some("links") => Self::Links,
            Some(_) => Self::Structured,
        }
    }
}

impl Fetcher {
    /// `fetch_page`'s result for `url`: `{"url", …}` per `extract`, or `{"error", "url"}`.
    pub async fn page_result(
        &self,
        url: &str,
        extract: Extract,
        cancel: &CancellationToken,
    ) -> Value {
        match self.fetch(url, cancel).await {
            Ok(fetched) => {
                let max_chars = self.settings().max_chars;
                let max_bytes = self.settings().max_bytes;
                // Parsing a 2 MiB page takes a while: off the async workers.
                let task_url = url.to_owned();
                let handle = tokio::task::spawn_blocking(move || {
                    shape(&task_url, &fetched, extract, max_chars, max_bytes)
                });
                tokio::select! {
                    biased;
                    () = cancel.cancelled() => json!({"error": "Cancelled", "url": url}),
                    r = handle => r.unwrap_or_else(|e| {
                        json!({"error": format!("Extraction failed: {e}"), "url": url})
                    }),
                }
            }
            Err(e) => json!({"error": e.to_string(), "url": url}),
        }
    }

    /// `crawl_batch`'s result: each URL like [`Fetcher::page_result`], at most
    /// [`BATCH_CONCURRENCY`] at a time, in the order given.
    pub async fn batch_result(
        &self,
        urls: &[String],
        extract: Extract,
        cancel: &CancellationToken,
    ) -> Value {
        if urls.len() > BATCH_MAX {
            return json!({"error": format!("Maximum {BATCH_MAX} pages can be fetched at once")});
        }
        // The futures are made up front (lazily started by `buffered`): a closure inside the
        // stream would make the future's lifetimes too general for `Send`.
        let pages: Vec<_> = urls
            .iter()
            .map(|url| self.page_result(url, extract, cancel))
            .collect();
        let results: Vec<Value> = futures_util::stream::iter(pages)
            .buffered(BATCH_CONCURRENCY)
            .collect()
            .await;
        json!({"total": results.len(), "results": results})
    }
}

/// Builds the result object from a fetched body.
pub fn shape(
    url: &str,
    fetched: &Fetched,
    extract: Extract,
    max_chars: usize,
    max_bytes: usize,
) -> Value {
    let mut notes: Vec<String> = Vec::new();
    if fetched.cut {
        notes.push(format!(
            "the page is larger than {max_bytes} bytes; only the first {max_bytes} bytes were read"
        ));
    }
    let final_url = &fetched.final_url;
    let (title, description, text, links_all) = match fetched.kind() {
        BodyKind::Html => {
            let page = Page::parse(&fetched.body);
            let limit = match extract {
                Extract::Links => LINKS_MAX,
                _ => STRUCTURED_LINKS_MAX,
            };
            let links = if extract == Extract::Text {
                Vec::new()
            } else {
                page.links(final_url, limit)
            };
            let text = if extract == Extract::Links {
                String::new()
            } else {
                page.text()
            };
            (page.title(), page.description(), text, links)
        }
        BodyKind::Text => (
            String::new(),
            String::new(),
            fetched.body.trim().to_owned(),
            Vec::new(),
        ),
    };
    let links: Vec<Value> = links_all
        .into_iter()
        .map(|l| json!({"text": cut_chars(&l.text, LINK_TEXT_MAX).0, "href": l.href}))
        .collect();
    let mut out = match extract {
        Extract::Text => {
            let (text, total) = cut_chars(&text, max_chars);
            if let Some(total) = total {
                notes.push(format!(
                    "text truncated to {max_chars} of {total} characters"
                ));
            }
            json!({"url": url, "text": text})
        }
        Extract::Links => json!({"url": url, "links": links}),
        Extract::Structured => {
            let limit = max_chars.min(STRUCTURED_TEXT_MAX);
            let (text, _) = cut_chars(&text, limit);
            json!({
                "url": url,
                "title": cut_chars(&title, 1000).0,
                "description": cut_chars(&description, 2000).0,
                "text": text,
                "links": links,
            })
        }
    };
    if let Value::Object(map) = &mut out {
        if final_url.as_str() != url {
            map.insert("final_url".into(), Value::String(final_url.to_string()));
        }
        if let Some(media) = &fetched.media_type
            && fetched.kind() == BodyKind::Text
        {
            map.insert("content_type".into(), Value::String(media.clone()));
        }
        if !notes.is_empty() {
            map.insert("truncated".into(), Value::Bool(true));
            map.insert("note".into(), Value::String(notes.join("; ")));
        }
    }
    out
}

/// The first `max` characters of `s`, and the total count when it was longer.
fn cut_chars(s: &str, max: usize) -> (String, Option<usize>) {
    match s.char_indices().nth(max) {
        None => (s.to_owned(), None),
        Some((byte, _)) => (s[..byte].to_owned(), Some(s.chars().count())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_counts_characters() {
        assert_eq!(cut_chars("héllo", 2), ("hé".into(), Some(5)));
        assert_eq!(cut_chars("hé", 2), ("hé".into(), None));
    }
}

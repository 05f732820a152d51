//! Web access for nanoclaw's tools: SSRF-guarded page fetching (`fetch_page`, `crawl_batch`),
//! HTML text and link extraction, and web search backends (`web_search`).
//!
//! Every address a fetch connects to is checked against [`guard::Policy`]: literal addresses
//! before the request, names inside the client's DNS resolver (so the checked address is the
//! connected one), and again on every redirect hop.

pub mod fetch;
pub mod guard;
pub mod html;
pub mod page;
pub mod search;

pub use fetch::{FetchError, FetchSettings, Fetched, Fetcher};
pub use guard::{AllowRule, Policy};
pub use page::Extract;
pub use search::{Backend, Hit, SearchSettings, Searcher};

/// Installs rustls' ring provider as the process default if none is (reqwest is built without
/// a provider; see nanoclaw-llm's function of the same name).
pub fn install_crypto_provider() {
    // Err only means some provider is already the default.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

//! The web interface's built files (`web/dist`, the committed Vite build), embedded in the
//! binary at compile time with rust-embed, each with the brotli and gzip variants the build
//! script made. No HTTP here: the server's `http::ui` module serves these.
//!
//! Debug builds embed too (rust-embed's `debug-embed`), so tests serve exactly what a release
//! binary serves. A change under `web/dist` reruns the build script and rebuilds this crate
//! (and, as cargo does for any rebuilt dependency, the server crate).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

/// `$OUT_DIR/ui/{id,br,gz}/<path>`: the original files and their compressed variants.
#[derive(rust_embed::RustEmbed)]
#[folder = "$OUT_DIR/ui/"]
struct Files;

/// One file of the interface.
#[derive(Debug)]
pub struct Asset {
    /// Path inside the build folder, `/`-separated, no leading `/` (`assets/index-ab12.js`).
    pub path: String,
    /// The file as built (borrowed from the binary).
    pub body: Cow<'static, [u8]>,
    /// Brotli variant, when compressing was worth it.
    pub brotli: Option<Cow<'static, [u8]>>,
    /// Gzip variant, when compressing was worth it.
    pub gzip: Option<Cow<'static, [u8]>>,
    /// SHA-256 of `body`.
    pub sha256: [u8; 32],
    /// Content type guessed from the extension (`application/octet-stream` when unknown).
    pub mime: String,
}

/// The file at `path` (relative, `/`-separated, as in [`Asset::path`]).
pub fn get(path: &str) -> Option<&'static Asset> {
    all().get(path)
}

/// `index.html` (a placeholder page when the build had no `web/dist`).
pub fn index() -> Option<&'static Asset> {
    get("index.html")
}

/// Every file, by path; built on first use.
pub fn all() -> &'static HashMap<String, Asset> {
    static ALL: OnceLock<HashMap<String, Asset>> = OnceLock::new();
    ALL.get_or_init(load)
}

fn load() -> HashMap<String, Asset> {
    let mut map = HashMap::new();
    for key in Files::iter() {
        let Some(path) = key.strip_prefix("id/") else {
            continue;
        };
        let Some(file) = Files::get(&key) else {
            continue;
        };
        let variant = |dir: &str| Files::get(&format!("{dir}/{path}")).map(|f| f.data);
        let asset = Asset {
            path: path.to_owned(),
            brotli: variant("br"),
            gzip: variant("gz"),
            sha256: file.metadata.sha256_hash(),
            mime: file.metadata.mimetype().to_owned(),
            body: file.data,
        };
        map.insert(asset.path.clone(), asset);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_its_variants_are_embedded() {
        let index = index().unwrap();
        assert!(index.mime.starts_with("text/html"), "{}", index.mime);
        assert!(std::str::from_utf8(&index.body).unwrap().contains("<html"));
        for asset in all().values() {
            assert!(!asset.path.starts_with('/'), "{}", asset.path);
            for packed in [&asset.brotli, &asset.gzip].into_iter().flatten() {
                assert!(packed.len() < asset.body.len(), "{}", asset.path);
            }
        }
    }
}

//! Prepares the web interface for embedding: copies `web/dist` (the committed Vite build) into
//! `$OUT_DIR/ui/id/`, and writes a brotli and a gzip variant of every compressible file into
//! `$OUT_DIR/ui/br/` and `$OUT_DIR/ui/gz/` when it is smaller enough to be worth sending. The
//! crate embeds that folder with rust-embed, so the server never compresses a file per request.
//!
//! `NANOCLAW_WEB_DIST` names another build folder. Without an `index.html` there the build
//! does not fail: a placeholder page saying the UI is missing is embedded (and a warning shown).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A compressed variant is kept only when it is at most this share of the original.
const KEEP_RATIO: f64 = 0.9;
/// Files smaller than this are not worth compressing (headers dominate).
const MIN_COMPRESS_BYTES: usize = 256;

const PLACEHOLDER: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>nanoclaw</title></head><body><h1>nanoclaw</h1><p>This binary was built without the web \
interface (<code>web/dist/index.html</code> was missing). The API is at <code>/api/</code>; \
the API documentation at <a href=\"/api/docs/\">/api/docs/</a>.</p></body></html>\n";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=NANOCLAW_WEB_DIST");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let dist = std::env::var_os("NANOCLAW_WEB_DIST")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../web/dist"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("ui");
    if let Err(e) = prepare(&dist, &out) {
        panic!(
            "cannot prepare the web interface from {}: {e}",
            dist.display()
        );
    }
}

fn prepare(dist: &Path, out: &Path) -> std::io::Result<()> {
    match fs::remove_dir_all(out) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let id = out.join("id");
    fs::create_dir_all(&id)?;
    fs::create_dir_all(out.join("br"))?;
    fs::create_dir_all(out.join("gz"))?;
    if !dist.join("index.html").is_file() {
        // Watch the nearest existing ancestor so that a later `npm run build` is picked up
        // (cargo reruns every time for a path that does not exist).
        if let Some(existing) = dist.ancestors().find(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", existing.display());
        }
        println!(
            "cargo:warning=no web interface at {}: embedding a placeholder page",
            dist.display()
        );
        fs::write(id.join("index.html"), PLACEHOLDER)?;
        return Ok(());
    }
    // A directory: cargo reruns this script when anything under it changes.
    println!("cargo:rerun-if-changed={}", dist.display());
    let mut files = Vec::new();
    walk(dist, Path::new(""), &mut files)?;
    for rel in files {
        let data = fs::read(dist.join(&rel))?;
        write(&id.join(&rel), &data)?;
        if !compressible(&rel) || data.len() < MIN_COMPRESS_BYTES {
            continue;
        }
        let keep = |packed: &[u8]| (packed.len() as f64) <= (data.len() as f64) * KEEP_RATIO;
        let br = brotli_of(&data)?;
        if keep(&br) {
            write(&out.join("br").join(&rel), &br)?;
        }
        let gz = gzip_of(&data)?;
        if keep(&gz) {
            write(&out.join("gz").join(&rel), &gz)?;
        }
    }
    Ok(())
}

/// Regular files under `dir`, relative to the build folder; hidden files and symlinks are
/// left out (a symlink could point anywhere on the build machine).
fn walk(root: &Path, rel: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries = fs::read_dir(root.join(rel))?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        let path = rel.join(&name);
        if kind.is_dir() {
            walk(root, &path, files)?;
        } else if kind.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

fn write(path: &Path, data: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, data)
}

/// Text formats; images, fonts and archives are already compressed.
fn compressible(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    matches!(
        ext.as_deref(),
        Some(
            "html"
                | "htm"
                | "js"
                | "mjs"
                | "cjs"
                | "css"
                | "json"
                | "map"
                | "svg"
                | "txt"
                | "xml"
                | "webmanifest"
                | "wasm"
                | "ico"
                | "ttf"
                | "otf"
        )
    )
}

fn brotli_of(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut packed = Vec::new();
    {
        // Quality 11 (the best) and a 4 MiB window: done once per build, read many times.
        let mut writer = brotli::CompressorWriter::new(&mut packed, 64 * 1024, 11, 22);
        writer.write_all(data)?;
        writer.flush()?;
    }
    Ok(packed)
}

fn gzip_of(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data)?;
    encoder.finish()
}

//! Walks over a project through its `Dir`, never following symlinks into directories.

use std::io;

use cap_std::fs::Dir;

use crate::WsError;

/// Deepest directory level a walk descends to; each level holds one open descriptor.
pub const MAX_WALK_DEPTH: usize = 128;

/// Sum of regular file sizes below `dir` (symlinks are neither followed nor counted).
pub(crate) fn usage_bytes(dir: &Dir) -> Result<u64, WsError> {
    let mut total = 0u64;
    let mut stack = vec![(dir.try_clone()?, 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        for entry in dir.entries()? {
            let entry = entry?;
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            if file_type.is_file() {
                // Gone meanwhile: it no longer uses space.
                total = total.saturating_add(entry.metadata().map_or(0, |m| m.len()));
            } else if file_type.is_dir() && depth < MAX_WALK_DEPTH {
                match entry.open_dir() {
                    Ok(sub) => stack.push((sub, depth + 1)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(total)
}

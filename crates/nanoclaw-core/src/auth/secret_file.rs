//! The generated JWT secret, kept in `data_dir` so tokens survive restarts.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::secret::Secret;

/// File name of the generated secret inside `data_dir`.
pub const FILE_NAME: &str = "jwt_secret";

/// Path of the secret file in `data_dir`.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

/// Reads the secret from `data_dir`, creating it (256 random bits, hex, mode 0600) if absent.
/// Returns the secret and whether it was created now. Safe when several processes start at
/// once: the file appears atomically with its full content, and the loser reads the winner's.
pub fn load_or_create(data_dir: &Path) -> io::Result<(Secret, bool)> {
    let path = path_in(data_dir);
    if let Some(secret) = read(&path)? {
        return Ok((secret, false));
    }
    std::fs::create_dir_all(data_dir)?;
    let value = hex::encode(rand::random::<[u8; 32]>());
    let tmp = data_dir.join(format!(
        ".{FILE_NAME}.{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(value.as_bytes())?;
        file.sync_all()?;
    }
    // hard_link fails if the target exists, so exactly one process's secret wins.
    let linked = std::fs::hard_link(&tmp, &path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok((Secret::new(value), true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read(&path)?
            .map(|s| (s, false))
            .ok_or_else(|| io::Error::other("secret file vanished while starting")),
        Err(e) => Err(e),
    }
}

fn read(path: &Path) -> io::Result<Option<Secret>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let value = text.trim();
            if value.len() < 32 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is shorter than 32 characters; delete it to generate a new one",
                        path.display()
                    ),
                ));
            }
            Ok(Some(Secret::new(value)))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_then_reused_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let (first, created) = load_or_create(&data).unwrap();
        assert!(created);
        assert_eq!(first.expose().len(), 64);
        let (second, created) = load_or_create(&data).unwrap();
        assert!(!created);
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path_in(&data))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn concurrent_creators_agree() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_owned();
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let d = data.clone();
                std::thread::spawn(move || load_or_create(&d).unwrap().0)
            })
            .collect();
        let secrets: Vec<Secret> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(secrets.windows(2).all(|w| w[0] == w[1]));
    }
}

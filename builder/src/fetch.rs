//! Pinned downloads (curl), shared by firmware and content: the bytes land
//! in a `.partial` file next to the destination, an interrupted transfer
//! resumes from where it stopped (HTTP Range, `curl -C -`), and the file is
//! renamed into place only once its size and sha256 match the pin. A
//! download whose bytes differ is deleted; nothing unverified is ever at
//! the destination.

use std::fs;
use std::path::{Path, PathBuf};

use crate::artifact::sums::sha256_file;
use crate::cmd::Cmd;

/// What a download must be.
#[derive(Debug, Clone, Copy)]
pub struct Pin<'a> {
    pub sha256: &'a str,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("downloading {url}: {detail}")]
    Transfer { url: String, detail: String },
    #[error(
        "{url} gave {got_size} bytes with sha256 {got}, but the pin is {want_size} bytes \
         with sha256 {want}: refused and deleted"
    )]
    Mismatch {
        url: String,
        got: String,
        got_size: u64,
        want: String,
        want_size: u64,
    },
}

/// The file a download of `dest` is written to until it is verified.
pub fn partial_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!(".{name}.partial"))
}

/// Whether `dest` already holds the pinned bytes.
fn already_there(dest: &Path, pin: Pin) -> bool {
    fs::metadata(dest).is_ok_and(|m| m.len() == pin.size)
        && sha256_file(dest).is_ok_and(|(_, got)| got.eq_ignore_ascii_case(pin.sha256))
}

/// How many times a transfer that made progress is resumed in one call.
const ATTEMPTS: usize = 5;

/// Download `url` to `dest`, verified against `pin`, resuming a partial
/// download left by an earlier call. Concurrent calls into one directory
/// take turns (a lock on the directory itself, so nothing is left behind);
/// a later call for the same `dest` finds it there.
pub fn fetch_verified(url: &str, dest: &Path, pin: Pin) -> Result<(), FetchError> {
    let io = |context: String| move |source| FetchError::Io { context, source };
    let parent = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
    let held = fs::File::open(parent).map_err(io(format!("opening {}", parent.display())))?;
    held.lock()
        .map_err(io(format!("locking {}", parent.display())))?;
    if already_there(dest, pin) {
        return Ok(());
    }
    let partial = partial_path(dest);
    let len = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    if len(&partial) > pin.size {
        fs::remove_file(&partial).map_err(io(format!("removing {}", partial.display())))?;
    }
    let mut last_error = String::new();
    let mut restarted = false;
    for _ in 0..ATTEMPTS {
        let before = len(&partial);
        if before == pin.size {
            break;
        }
        if before > 0 {
            crate::say!("clic: resuming {url} at byte {before} of {}", pin.size);
        }
        let result = Cmd::new("curl")
            .args(["-fsSL", "--connect-timeout", "15", "-C", "-", "-o"])
            .arg(&partial)
            .arg(url)
            .run();
        match result {
            Ok(_) => {
                last_error.clear();
                break;
            }
            Err(e) => {
                last_error = e.to_string();
                if crate::interrupt::requested() {
                    break;
                }
                if len(&partial) <= before {
                    // No progress: a server that does not resume gets one
                    // fresh try from the first byte.
                    if before == 0 || restarted {
                        break;
                    }
                    restarted = true;
                    let _ = fs::remove_file(&partial);
                }
            }
        }
    }
    if !last_error.is_empty() {
        // Keep what arrived for the next call to resume; an empty file is
        // nothing to resume.
        if partial.exists() && len(&partial) == 0 {
            let _ = fs::remove_file(&partial);
        }
        return Err(FetchError::Transfer {
            url: url.to_owned(),
            detail: last_error,
        });
    }
    let (got_size, got) =
        sha256_file(&partial).map_err(io(format!("reading {}", partial.display())))?;
    if got_size != pin.size || !got.eq_ignore_ascii_case(pin.sha256) {
        let _ = fs::remove_file(&partial);
        return Err(FetchError::Mismatch {
            url: url.to_owned(),
            got,
            got_size,
            want: pin.sha256.to_ascii_lowercase(),
            want_size: pin.size,
        });
    }
    fs::rename(&partial, dest).map_err(io(format!(
        "moving {} to {}",
        partial.display(),
        dest.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn concurrent_fetches_of_one_file_take_turns_and_all_succeed() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src.bin");
        let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        fs::write(&src, &bytes).unwrap();
        let sha = hex::encode(Sha256::digest(&bytes));
        let url = format!("file://{}", src.display());
        let dest = t.path().join("cache").join(&sha);
        let results: Vec<Result<(), String>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let pin = Pin {
                            sha256: &sha,
                            size: bytes.len() as u64,
                        };
                        fetch_verified(&url, &dest, pin).map_err(|e| e.to_string())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for r in results {
            assert_eq!(r, Ok(()));
        }
        assert_eq!(fs::read(&dest).unwrap(), bytes);
        let left: Vec<_> = fs::read_dir(dest.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            [std::ffi::OsString::from(&sha)],
            "only the file itself"
        );
    }
}

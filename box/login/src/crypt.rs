//! crypt(3) from the system's libcrypt.so.1, loaded with dlopen.
//!
//! `crypt_ra` and `crypt_gensalt_ra` allocate their results; both are freed
//! here. A phrase or hash with a NUL byte is refused before the call.
#![allow(unsafe_code)] // dlopen/dlsym and the two C calls

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr, CString};
use std::sync::OnceLock;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptError {
    #[error("the system's libcrypt.so.1 could not be loaded ({0})")]
    NoLibrary(String),
    #[error("a password or hash holds a NUL byte")]
    Nul,
    #[error("crypt(3) refused the hash or the method `{0}`")]
    Refused(String),
}

type CryptRa =
    unsafe extern "C" fn(*const c_char, *const c_char, *mut *mut c_void, *mut c_int) -> *mut c_char;
type GensaltRa = unsafe extern "C" fn(*const c_char, c_ulong, *const c_char, c_int) -> *mut c_char;

struct Lib {
    crypt_ra: CryptRa,
    gensalt_ra: GensaltRa,
}

fn lib() -> Result<&'static Lib, CryptError> {
    static LIB: OnceLock<Result<Lib, CryptError>> = OnceLock::new();
    LIB.get_or_init(load).as_ref().map_err(Clone::clone)
}

impl Clone for CryptError {
    fn clone(&self) -> Self {
        match self {
            CryptError::NoLibrary(s) => CryptError::NoLibrary(s.clone()),
            CryptError::Nul => CryptError::Nul,
            CryptError::Refused(s) => CryptError::Refused(s.clone()),
        }
    }
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string owned by libdl.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        "unknown error".into()
    } else {
        // SAFETY: checked non-NULL above.
        unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
    }
}

fn load() -> Result<Lib, CryptError> {
    // SAFETY: a constant NUL-terminated name; the handle is never closed,
    // so the symbols stay valid for the life of the process.
    let h = unsafe { libc::dlopen(c"libcrypt.so.1".as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if h.is_null() {
        return Err(CryptError::NoLibrary(dlerror()));
    }
    // SAFETY: `h` is a valid handle and the names are NUL-terminated.
    let (a, b) = unsafe {
        (
            libc::dlsym(h, c"crypt_ra".as_ptr()),
            libc::dlsym(h, c"crypt_gensalt_ra".as_ptr()),
        )
    };
    if a.is_null() || b.is_null() {
        return Err(CryptError::NoLibrary(format!(
            "no crypt_ra/crypt_gensalt_ra: {}",
            dlerror()
        )));
    }
    // SAFETY: both symbols have these C signatures in libxcrypt (crypt.h).
    Ok(unsafe {
        Lib {
            crypt_ra: std::mem::transmute::<*mut c_void, CryptRa>(a),
            gensalt_ra: std::mem::transmute::<*mut c_void, GensaltRa>(b),
        }
    })
}

/// crypt(phrase, setting): the hash, or why not.
fn crypt(phrase: &str, setting: &str) -> Result<String, CryptError> {
    let l = lib()?;
    let p = CString::new(phrase).map_err(|_| CryptError::Nul)?;
    let s = CString::new(setting).map_err(|_| CryptError::Nul)?;
    let mut data: *mut c_void = std::ptr::null_mut();
    let mut size: c_int = 0;
    // SAFETY: valid C strings; crypt_ra allocates `data` (freed below) and
    // returns NULL or a pointer into it.
    let out = unsafe { (l.crypt_ra)(p.as_ptr(), s.as_ptr(), &mut data, &mut size) };
    let result = if out.is_null() {
        None
    } else {
        // SAFETY: a NUL-terminated string inside `data`, still allocated.
        Some(
            unsafe { CStr::from_ptr(out) }
                .to_string_lossy()
                .into_owned(),
        )
    };
    // SAFETY: `data` came from malloc in crypt_ra (or is NULL).
    unsafe { libc::free(data) };
    match result {
        // libxcrypt's failure tokens start with `*`.
        Some(h) if !h.starts_with('*') => Ok(h),
        _ => Err(CryptError::Refused(method(setting).to_string())),
    }
}

/// The `$id$` of a hash, for messages (never the hash itself).
fn method(hash: &str) -> &str {
    hash.split('$').nth(1).unwrap_or("?")
}

/// Whether `password` matches `hash` (any method the system's crypt knows).
/// An empty password, an empty hash, a locked account (`!`, `*`) never match.
pub fn verify(password: &str, hash: &str) -> Result<bool, CryptError> {
    if password.is_empty() || !hash.starts_with('$') {
        return Ok(false);
    }
    let h = crypt(password, hash)?;
    Ok(constant_time_eq(h.as_bytes(), hash.as_bytes()))
}

/// A new hash of `password` by the system's preferred method (`prefix`
/// `$y$` is yescrypt, Debian's default; `$6$` sha512-crypt), default cost,
/// random salt from the kernel.
pub fn hash(password: &str, prefix: &str) -> Result<String, CryptError> {
    let l = lib()?;
    let pre = CString::new(prefix).map_err(|_| CryptError::Nul)?;
    // SAFETY: valid prefix; count 0 = the method's default cost; NULL
    // rbytes = libxcrypt takes random bytes from the kernel. The result is
    // malloc'd (freed below) or NULL.
    let s = unsafe { (l.gensalt_ra)(pre.as_ptr(), 0, std::ptr::null(), 0) };
    if s.is_null() {
        return Err(CryptError::Refused(prefix.trim_matches('$').to_string()));
    }
    // SAFETY: non-NULL, NUL-terminated.
    let setting = unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    // SAFETY: allocated by crypt_gensalt_ra.
    unsafe { libc::free(s.cast()) };
    crypt(password, &setting)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yescrypt_and_sha512_round_trip() {
        for prefix in ["$y$", "$6$"] {
            let h = hash("pain-au-levain", prefix).unwrap();
            assert!(h.starts_with(prefix), "{h}");
            assert!(verify("pain-au-levain", &h).unwrap());
            assert!(!verify("pain-au-levaim", &h).unwrap());
            assert!(!verify("", &h).unwrap());
            assert_ne!(h, hash("pain-au-levain", prefix).unwrap(), "salted");
        }
    }

    #[test]
    fn known_hashes_from_other_tools() {
        // openssl passwd -6 -salt saltsalt motdepasse
        let h6 = "$6$saltsalt$6sLDRVb.i2ttZCw6bRkP/HJeSdDdLn40hUNCqoNR.aB8.wQB.eQ.gM/PB9FxKsM1FD2IZNPhxF/iZ0ZYF5PWO/";
        assert!(verify("motdepasse", h6).unwrap());
        assert!(!verify("motdepass", h6).unwrap());
        // yescrypt, as chpasswd writes it on Debian bookworm (default cost j9T)
        let hy = "$y$j9T$abcdefghijklmnopqrstu1$JdfRSSD0OFeWTkH2QBdfNLWysRXFvG/CjYUsZ1kYHf0";
        assert!(verify("motdepasse", hy).unwrap());
        assert!(!verify("Motdepasse", hy).unwrap());
    }

    #[test]
    fn locked_and_odd_hashes_never_match() {
        for h in ["", "!", "*", "!$y$j9T$abc$def", "x"] {
            assert!(!verify("anything", h).unwrap(), "{h}");
        }
        assert_eq!(verify("a\0b", "$6$salt$x"), Err(CryptError::Nul));
        assert!(verify("anything", "$zz$nonsense").is_err());
    }
}

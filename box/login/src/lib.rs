//! The box's web login, shared by its services (agora's moderation, the
//! admin console).
//!
//! - [`crypt`]: a password is checked against a hash by the system's own
//!   crypt(3) (libxcrypt, loaded at run time): the same code and the same
//!   hashes as `login` and `passwd` (yescrypt `$y$` on Debian bookworm;
//!   older `$6$` sha512-crypt hashes still verify). Nothing is linked at
//!   build time, so cross-building needs no target libcrypt.
//! - [`request`]: cookies, the client address behind nginx, the origin
//!   check of forms.
//! - [`delay`]: after failed attempts a client waits longer and longer
//!   before the next one is even looked at (pure: time is passed in).

pub mod crypt;
pub mod delay;
pub mod request;

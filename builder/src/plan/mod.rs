//! plan

pub mod layout;

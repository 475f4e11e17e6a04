//! agora: polls, votes and sticky-note boards for a CLIC! box.
#![deny(unsafe_code)]

pub mod cli;
pub mod db;
pub mod export;
pub mod form;
pub mod i18n;
pub mod ratelimit;
pub mod store;
pub mod sys;
pub mod tally;
pub mod web;

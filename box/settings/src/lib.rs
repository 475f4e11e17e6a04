//! CLIC! settings: the schema a layer declares in `layer.toml` (type,
//! constraints, default, description, the `clic.txt` key that may change it
//! on the box) and the rules every value must follow, once, in Rust.
//!
//! Used by the builder (`clic check`, `clic build`, `clic settings`) and on
//! the box (`clic-box settings`, which checks `clic.txt`; the admin console
//! will use it too). Pure except for [`System`], which says where the time
//! zone database is.

mod check;
mod clictxt;
mod kinds;
mod net;
mod rules;
mod schema;
mod value;

pub use check::{Fault, System};
pub use clictxt::{parse_clic_txt, parse_text, Accepted, ClicTxtLine, Outcome, Refusal};
pub use kinds::{countries, parse_size, valid_locale, wifi_channel_ok};
pub use net::{parse_ipv4, Ipv4Net};
pub use rules::{Rule, RuleFault};
pub use schema::{system_schema, ImageSettings, Kind, LayerSchema, SettingDef, SETTINGS_FORMAT};
pub use value::Value;

//! CLIC! settings: the schema a layer declares in `layer.toml` and the rules
//! every value must follow. Used by the builder (`clic check`, `clic build`)
//! and on the box (`clic-box settings`, for `clic.txt`). Pure: no I/O except
//! where a rule reads the system (the time zone database).

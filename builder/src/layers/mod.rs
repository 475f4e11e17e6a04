//! Layers: copy and render layer trees over the image, write the system
//! files, enable units. Rendering and unit links are computed purely; the
//! only side effects are file writes inside the image tree.

pub mod apply;
pub mod paths;
pub mod portal;
pub mod render;
pub mod steps;
pub mod system;
pub mod templates;
pub mod units;

//! clic-box: the box-side tool (placeholder until its commands land).
fn main() {
    eprintln!("usage: clic-box settings ...");
    std::process::exit(2);
}

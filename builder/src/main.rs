use clap::Parser;

fn main() {
    clic::interrupt::install();
    let cli = clic::cli::Cli::parse();
    if let Err(e) = clic::cli::run(cli) {
        if let Some(exit) = e.downcast_ref::<clic::cli::Exit>() {
            eprintln!("error: {}", exit.message);
            std::process::exit(exit.code);
        }
        eprintln!("error: {e:#}");
        std::process::exit(if clic::interrupt::requested() { 130 } else { 1 });
    }
}

use clap::Parser;

fn main() {
    clic::interrupt::install();
    // What the builder makes (image trees, folders it creates, outputs) must
    // not depend on the maintainer's umask: 0077 would make the image's
    // folders unreadable to its services, 0002 group-writable. Files that
    // must stay private set their mode explicitly.
    // SAFETY: umask only sets this process's file mode mask.
    unsafe {
        libc::umask(0o022);
    }
    let cli = clic::cli::Cli::parse();
    if cli.command.only_reads() {
        // `clic check SPEC | grep -q ...`, `clic boards | head -1`: a reader
        // that stops early ends a command that only prints, as it does any
        // Unix tool, instead of a panic on the broken pipe. Commands that
        // make or write something keep Rust's default (an error they clean
        // up after).
        // SAFETY: restoring the default disposition of one signal, before
        // any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if let Err(e) = clic::cli::run(cli) {
        if let Some(exit) = e.downcast_ref::<clic::cli::Exit>() {
            eprintln!("error: {}", exit.message);
            std::process::exit(exit.code);
        }
        eprintln!("error: {e:#}");
        std::process::exit(if clic::interrupt::requested() { 130 } else { 1 });
    }
}

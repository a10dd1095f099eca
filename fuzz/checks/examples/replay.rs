//! Runs fuzz inputs through their target's check and prints how long each
//! took: `cargo run --release -p machined-fuzz-checks --example replay --
//! TARGET FILE...` (e.g. to see whether a slow unit libFuzzer reported is
//! slow without its instrumentation).

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(target) = args.next() else {
        eprintln!("usage: replay TARGET FILE...");
        std::process::exit(2);
    };
    let Some((_, check)) = machined_fuzz_checks::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
    else {
        eprintln!("unknown target {target:?}");
        std::process::exit(2);
    };
    for file in args {
        let data = match std::fs::read(&file) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{file}: {e}");
                std::process::exit(1);
            }
        };
        let start = Instant::now();
        check(&data);
        println!("{file}: {} bytes, {:?}", data.len(), start.elapsed());
    }
}

//! Replays every kept fuzz input (the corpus, and the inputs that once
//! failed) through the same checks the fuzz targets run.

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[test]
fn kept_inputs_pass_their_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (target, check) in machined_fuzz_checks::TARGETS {
        let corpus = inputs(&root.join("corpus").join(target));
        assert!(!corpus.is_empty(), "fuzz/corpus/{target} holds no inputs");
        let regressions = inputs(&root.join("regressions").join(target));
        for file in corpus.iter().chain(&regressions) {
            match std::fs::read(file) {
                Ok(data) => check(&data),
                // A fuzzer running meanwhile replaces inputs it shrank.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => panic!("{}: {e}", file.display()),
            }
        }
        eprintln!(
            "{target}: {} corpus inputs, {} regressions",
            corpus.len(),
            regressions.len()
        );
    }
}

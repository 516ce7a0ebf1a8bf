//! Every fuzz target (fuzz/src/targets.rs) on its committed seeds and on every input a fuzzing
//! run once found to crash or hang (fuzz/regressions/TARGET/): none may panic, and each must
//! return promptly. The targets drive real gateways over the in-process demo backends.

#[path = "../fuzz/src/targets.rs"]
#[allow(dead_code)]
mod targets;

use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn seeds_and_found_crashes_run_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut ran = 0;
    for (name, target) in targets::TARGETS {
        for dir in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let input = std::fs::read(&path).unwrap();
                let started = Instant::now();
                target(&input);
                let took = started.elapsed();
                assert!(
                    took < Duration::from_secs(5),
                    "{} took {took:?}",
                    path.display()
                );
                ran += 1;
            }
        }
    }
    assert!(ran >= targets::TARGETS.len(), "only {ran} inputs ran");
}

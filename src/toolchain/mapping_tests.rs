//! `rosetta test`: mapping test cases kept next to the mappings. Each case is a request and,
//! optionally, a recorded backend response (`NAME.yaml`); its dry-run report is compared with
//! the stored snapshot beside it (`NAME.snap`, plain text that reviews well in a pull request).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::transcode::{DryRun, RequestFile, ResponseFile};
use crate::config::{self, display_path, Diagnostics, Files, Vars};

/// A test case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub request: RequestFile,
    #[serde(default)]
    pub response: Option<ResponseFile>,
}

pub enum Verdict {
    Passed,
    /// The snapshot was written (`--update`), new or changed.
    Updated,
    /// A readable reason: the diff against the snapshot, or why the case could not run.
    Failed(String),
}

pub struct Outcome {
    pub case: String,
    pub verdict: Verdict,
    pub elapsed: Duration,
}

/// The case files at `path`: the file itself, or the `*.yaml` files of a directory.
pub fn cases_at(files: &Files, path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if files.is_dir(path) {
        files.list(path, &["yaml", "yml"])
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

/// Runs every case against the gateway of `config_path`.
pub async fn run(
    files: Files,
    config_path: &Path,
    vars: Vars,
    cases: &[PathBuf],
    update: bool,
) -> Result<Vec<Outcome>, Diagnostics> {
    let dry_run = DryRun::load(files.clone(), config_path, vars)?;
    let mut outcomes = Vec::new();
    for path in cases {
        let started = Instant::now();
        let case = display_path(path);
        let verdict = run_case(&files, &dry_run, path, &case, update).await;
        outcomes.push(Outcome {
            case,
            verdict,
            elapsed: started.elapsed(),
        });
    }
    Ok(outcomes)
}

async fn run_case(
    files: &Files,
    dry_run: &DryRun,
    path: &Path,
    shown: &str,
    update: bool,
) -> Verdict {
    let mut diags = Diagnostics::default();
    let Some(case) = config::parse_yaml::<TestCase>(files, path, &Arc::from(shown), &mut diags)
    else {
        return Verdict::Failed(diags.render());
    };
    let report = match dry_run.report(&case.request, shown, case.response).await {
        Ok(report) => report,
        Err(diags) => return Verdict::Failed(diags.render()),
    };
    let snapshot = path.with_extension("snap");
    let stored = files.read_to_string(&snapshot).ok();
    if stored.as_deref() == Some(report.as_str()) {
        return Verdict::Passed;
    }
    if update {
        return match std::fs::write(&snapshot, &report) {
            Ok(()) => Verdict::Updated,
            Err(e) => Verdict::Failed(format!("cannot write {}: {e}\n", display_path(&snapshot))),
        };
    }
    match stored {
        None => Verdict::Failed(format!(
            "no snapshot {} yet; run with --update to write it. The report is:\n{report}",
            display_path(&snapshot)
        )),
        Some(stored) => Verdict::Failed(
            similar::TextDiff::from_lines(&stored, &report)
                .unified_diff()
                .header(&display_path(&snapshot), "now")
                .to_string(),
        ),
    }
}

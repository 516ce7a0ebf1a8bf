//! Where configuration, mapping and schema files are read from: the disk, or a set of files
//! embedded in the binary (the `rosetta demo` configuration). Loading code reads only through
//! this, so the demo goes through exactly the same loader as a user's files.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum Files {
    Disk,
    /// Paths relative to a virtual root, with their contents.
    Embedded(Arc<BTreeMap<PathBuf, &'static [u8]>>),
}

impl Files {
    pub fn embedded(files: &[(&str, &'static [u8])]) -> Self {
        Files::Embedded(Arc::new(
            files.iter().map(|(p, c)| (PathBuf::from(p), *c)).collect(),
        ))
    }

    pub fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        match self {
            Files::Disk => std::fs::read(path),
            Files::Embedded(map) => map
                .get(&normalize(path))
                .map(|c| c.to_vec())
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file")),
        }
    }

    pub fn read_to_string(&self, path: &Path) -> io::Result<String> {
        String::from_utf8(self.read(path)?)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "the file is not UTF-8"))
    }

    pub fn is_dir(&self, path: &Path) -> bool {
        match self {
            Files::Disk => path.is_dir(),
            Files::Embedded(map) => {
                let dir = normalize(path);
                map.keys().any(|p| p.parent() == Some(dir.as_path()))
            }
        }
    }

    /// The files directly in `dir` whose extension is one of `extensions`, sorted by name.
    pub fn list(&self, dir: &Path, extensions: &[&str]) -> io::Result<Vec<PathBuf>> {
        let has_ext = |p: &Path| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| extensions.contains(&e))
        };
        let mut found: Vec<PathBuf> = match self {
            Files::Disk => std::fs::read_dir(dir)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && has_ext(p))
                .collect(),
            Files::Embedded(map) => {
                let dir = normalize(dir);
                map.keys()
                    .filter(|p| p.parent() == Some(dir.as_path()) && has_ext(p))
                    .cloned()
                    .collect()
            }
        };
        found.sort();
        Ok(found)
    }
}

/// Removes `.` and resolves `..` lexically, so embedded paths compare equal however joined.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// How a path is shown in diagnostics: relative to the working directory when it is below it.
pub fn display_path(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    let shown = cwd
        .as_deref()
        .and_then(|cwd| path.strip_prefix(cwd).ok())
        .unwrap_or(path);
    normalize(shown).display().to_string()
}

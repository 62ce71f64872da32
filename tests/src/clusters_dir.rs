//! A temporary clusters directory (the functions' `CLUSTERS_DIR`) of cluster files, removed
//! when dropped.

use std::path::{Path, PathBuf};

/// A directory under the system's temporary directory, unique per test process and `tag`.
pub struct ClustersDir(PathBuf);

impl ClustersDir {
    /// An empty directory named after `owner` and `tag` (a leftover of an earlier run is removed).
    pub fn new(owner: &str, tag: &str) -> ClustersDir {
        let dir = std::env::temp_dir().join(format!(
            "ecs-autoscale-{owner}-{tag}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        ClustersDir(dir)
    }

    /// Writes the cluster file `name` (e.g. `prod.yml`).
    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).expect("cluster file");
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The directory as an environment variable's value.
    pub fn display(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for ClustersDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

//! [`ArtifactStore`] on a local directory through `object_store`.
//!
//! The same `object_store` API serves S3 later, so the copy logic here is the one production
//! uses. Files land under `{root}/{prefix}`; `root` is `{home}/artifacts/tradai-models-{env}`.

use async_trait::async_trait;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tradai_ports::{ArtifactError, ArtifactInfo, ArtifactStore};

/// Artifacts in a local directory.
#[derive(Debug, Clone)]
pub struct LocalArtifacts {
    root: PathBuf,
    store: Arc<LocalFileSystem>,
}

impl LocalArtifacts {
    /// Opens (creating) the directory `root`.
    pub fn open(root: &Path) -> Result<Self, ArtifactError> {
        let be = |m: String| ArtifactError::Backend {
            location: root.display().to_string(),
            message: m,
        };
        std::fs::create_dir_all(root).map_err(|e| be(format!("cannot create directory: {e}")))?;
        let root = root.canonicalize().map_err(|e| be(e.to_string()))?;
        let store = LocalFileSystem::new_with_prefix(&root).map_err(|e| be(e.to_string()))?;
        Ok(LocalArtifacts {
            root,
            store: Arc::new(store),
        })
    }

    fn backend(&self, e: impl std::fmt::Display) -> ArtifactError {
        ArtifactError::Backend {
            location: self.root.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// Every regular file under `dir`, as (relative name with `/`, absolute path), sorted by name.
fn walk(dir: &Path) -> Result<Vec<(String, PathBuf)>, ArtifactError> {
    let src = |m: String| ArtifactError::Source {
        path: dir.display().to_string(),
        message: m,
    };
    let meta = std::fs::metadata(dir).map_err(|e| src(e.to_string()))?;
    if !meta.is_dir() {
        return Err(src("not a directory".into()));
    }
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| src(format!("{}: {e}", d.display())))?;
        for entry in entries {
            let entry = entry.map_err(|e| src(e.to_string()))?;
            let p = entry.path();
            let ft = entry.file_type().map_err(|e| src(e.to_string()))?;
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let rel = p.strip_prefix(dir).map_err(|e| src(e.to_string()))?;
                let name: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push((name.join("/"), p));
            }
        }
    }
    if out.is_empty() {
        return Err(src("the directory has no files".into()));
    }
    out.sort();
    Ok(out)
}

/// Hash of a directory's content: names and bytes in name order.
struct DirHash(Sha256, u64);

impl DirHash {
    fn new() -> Self {
        DirHash(Sha256::new(), 0)
    }
    fn add(&mut self, name: &str, bytes: &[u8]) {
        self.0.update((name.len() as u64).to_le_bytes());
        self.0.update(name.as_bytes());
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self.1 += bytes.len() as u64;
    }
    fn finish(self) -> (String, u64) {
        (hex::encode(self.0.finalize()), self.1)
    }
}

fn norm_prefix(prefix: &str) -> String {
    prefix.trim_matches('/').to_string()
}

#[async_trait]
impl ArtifactStore for LocalArtifacts {
    fn url(&self, prefix: &str) -> String {
        let mut p = self.root.join(norm_prefix(prefix)).display().to_string();
        p.push('/');
        format!("file://{p}")
    }

    async fn put_dir(&self, prefix: &str, dir: &Path) -> Result<ArtifactInfo, ArtifactError> {
        let prefix = norm_prefix(prefix);
        let files = walk(dir)?;
        let mut hash = DirHash::new();
        let mut names = Vec::with_capacity(files.len());
        for (name, path) in files {
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| ArtifactError::Source {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
            hash.add(&name, &bytes);
            let loc = ObjPath::from(format!("{prefix}/{name}"));
            self.store
                .put(&loc, PutPayload::from(bytes))
                .await
                .map_err(|e| self.backend(e))?;
            tracing::debug!(file = %loc, "artifact file stored");
            names.push(name);
        }
        let (sha256, bytes) = hash.finish();
        Ok(ArtifactInfo {
            url: self.url(&prefix),
            files: names,
            bytes,
            sha256,
        })
    }

    async fn get_dir(&self, prefix: &str, dir: &Path) -> Result<ArtifactInfo, ArtifactError> {
        let prefix = norm_prefix(prefix);
        let base = ObjPath::from(prefix.as_str());
        let mut metas: Vec<_> = self
            .store
            .list(Some(&base))
            .try_collect()
            .await
            .map_err(|e| self.backend(e))?;
        if metas.is_empty() {
            return Err(ArtifactError::NotFound(self.url(&prefix)));
        }
        metas.sort_by(|a, b| a.location.cmp(&b.location));
        let mut hash = DirHash::new();
        let mut names = Vec::with_capacity(metas.len());
        for m in metas {
            let full = m.location.to_string();
            let name = full
                .strip_prefix(&format!("{prefix}/"))
                .unwrap_or(&full)
                .to_string();
            let bytes = self
                .store
                .get(&m.location)
                .await
                .map_err(|e| self.backend(e))?
                .bytes()
                .await
                .map_err(|e| self.backend(e))?;
            hash.add(&name, &bytes);
            let target = dir.join(&name);
            if let Some(parent) = target.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| ArtifactError::Source {
                        path: parent.display().to_string(),
                        message: e.to_string(),
                    })?;
            }
            tokio::fs::write(&target, &bytes)
                .await
                .map_err(|e| ArtifactError::Source {
                    path: target.display().to_string(),
                    message: e.to_string(),
                })?;
            names.push(name);
        }
        let (sha256, bytes) = hash.finish();
        Ok(ArtifactInfo {
            url: self.url(&prefix),
            files: names,
            bytes,
            sha256,
        })
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<(), ArtifactError> {
        let base = ObjPath::from(norm_prefix(prefix).as_str());
        let metas: Vec<_> = self
            .store
            .list(Some(&base))
            .try_collect()
            .await
            .map_err(|e| self.backend(e))?;
        for m in metas {
            self.store
                .delete(&m.location)
                .await
                .map_err(|e| self.backend(e))?;
        }
        Ok(())
    }
}

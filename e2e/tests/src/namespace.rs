//! A namespace per test, so tests run in parallel on one API server without seeing each other.

use anyhow::Result;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, DeleteParams, PostParams};

/// A namespace created for one test.
pub struct TestNamespace {
    /// Its name.
    pub name: String,
    client: kube::Client,
}

impl std::fmt::Debug for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNamespace")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestNamespace {
    /// Creates `<prefix>-<random suffix>`.
    pub async fn create(client: &kube::Client, prefix: &str) -> Result<Self> {
        let name = format!("{prefix}-{:08x}", rand_suffix());
        let api: Api<Namespace> = Api::all(client.clone());
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.clone());
        ns.metadata.labels = Some([("baton.dev/e2e".to_owned(), "true".to_owned())].into());
        api.create(&PostParams::default(), &ns).await?;
        Ok(Self {
            name,
            client: client.clone(),
        })
    }

    /// Deletes the namespace. Without a controller-manager (the local control plane) it stays
    /// Terminating, which is harmless; on a real cluster it goes away.
    pub async fn delete(self) -> Result<()> {
        let api: Api<Namespace> = Api::all(self.client);
        api.delete(&self.name, &DeleteParams::background()).await?;
        Ok(())
    }
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, RandomState};
    // RandomState is seeded per process and per instance: enough to keep names apart.
    RandomState::new().hash_one(std::time::SystemTime::now()) as u32
}

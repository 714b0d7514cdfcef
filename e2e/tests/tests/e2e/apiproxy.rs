//! The API proxy chaos and benchmark harnesses put between the operator and the API server:
//! it forwards faithfully (watches streamed), counts what it forwards, and injects exactly the
//! faults it is asked for.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use baton_e2e::apiproxy::{ApiProxy, Injected, Matcher};
use baton_e2e::{cluster, namespace::TestNamespace};
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

/// The cluster's admin client (bypassing the proxy), a namespace, and a proxy.
async fn setup(prefix: &str) -> Result<(kube::Client, TestNamespace, ApiProxy)> {
    let cluster = cluster::shared().await?;
    let admin = cluster.client().await?;
    let ns = TestNamespace::create(&admin, prefix).await?;
    let proxy = ApiProxy::start(&cluster).await?;
    Ok((admin, ns, proxy))
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some(name.to_owned());
    cm.data = Some([("value".to_owned(), value.to_owned())].into());
    cm
}

fn value(cm: &ConfigMap) -> Option<&str> {
    cm.data.as_ref()?.get("value").map(String::as_str)
}

/// A watch of the ConfigMaps through the proxy from `version`, once it has started.
async fn open_watch(
    through: &Api<ConfigMap>,
    version: &str,
) -> Result<
    std::pin::Pin<Box<impl futures::Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + use<>>>,
> {
    let watch = tokio::time::timeout(
        WAIT,
        through.watch(&WatchParams::default().timeout(120), version),
    )
    .await
    .context("the watch through the proxy did not start")??;
    Ok(Box::pin(watch))
}

fn merge_value(value: &str) -> Patch<serde_json::Value> {
    Patch::Merge(json!({ "data": { "value": value } }))
}

#[tokio::test]
async fn apiproxy_forwards_streams_watches_and_counts() -> Result<()> {
    let (admin, ns, proxy) = setup("apiproxy-fwd").await?;
    let kubeconfig = std::fs::read_to_string(proxy.kubeconfig())?;
    assert!(
        kubeconfig.contains(&format!("server: {}", proxy.url())),
        "{kubeconfig}"
    );
    for credential in ["token", "client-certificate", "client-key", "password"] {
        assert!(!kubeconfig.contains(credential), "{kubeconfig}");
    }

    let through: Api<ConfigMap> = Api::namespaced(proxy.client().await?, &ns.name);
    let direct: Api<ConfigMap> = Api::namespaced(admin, &ns.name);
    through
        .create(&PostParams::default(), &config_map("fwd", "1"))
        .await?;
    let list = through.list(&ListParams::default()).await?;
    assert_eq!(list.items.len(), 1);
    assert_eq!(value(&list.items[0]), Some("1"));
    let version = list
        .metadata
        .resource_version
        .context("a list without resourceVersion")?;

    // The watch is open before the change is made, and the change is made beside the proxy:
    // seeing it through the proxy means the response streams rather than being buffered.
    // A proxy that buffered would not even answer the watch's headers before it ended.
    let mut watch = open_watch(&through, &version).await?;
    direct
        .patch("fwd", &PatchParams::default(), &merge_value("2"))
        .await?;
    let seen = tokio::time::timeout(WAIT, async {
        while let Some(event) = watch.try_next().await? {
            if let WatchEvent::Modified(cm) = event {
                return Ok::<_, anyhow::Error>(cm);
            }
        }
        bail!("the watch ended without the modification")
    })
    .await
    .context("the watch through the proxy did not stream the modification")??;
    assert_eq!(value(&seen), Some("2"));

    let key = |verb: &str| (verb.to_owned(), "configmaps".to_owned());
    for counts in [proxy.counts(), proxy.counts_in(&ns.name)] {
        for verb in ["create", "list", "watch"] {
            assert_eq!(counts.get(&key(verb)), Some(&1), "{verb}: {counts:?}");
        }
        // The patch went around the proxy.
        assert_eq!(counts.get(&key("patch")), None, "{counts:?}");
    }
    assert_eq!(proxy.count("watch", "configmaps"), 1);
    assert_eq!(proxy.counts_in("some-other-namespace"), BTreeMap::new());
    assert_eq!(proxy.injected(), Injected::default());

    drop(watch);
    proxy.reset_counts();
    assert!(proxy.counts().is_empty());
    proxy.stop().await;
    ns.delete().await
}

#[tokio::test]
async fn apiproxy_injects_conflicts_on_matching_writes_only() -> Result<()> {
    let (admin, ns, proxy) = setup("apiproxy-409").await?;
    let through: Api<ConfigMap> = Api::namespaced(proxy.client().await?, &ns.name);
    let direct: Api<ConfigMap> = Api::namespaced(admin, &ns.name);
    through
        .create(&PostParams::default(), &config_map("a", "1"))
        .await?;
    proxy.conflict_next(
        Matcher::resource("configmaps")
            .verbs(&["patch"])
            .namespace(&ns.name),
        1,
    );

    // Reads and writes the matcher does not name pass.
    through
        .create(&PostParams::default(), &config_map("b", "1"))
        .await?;
    assert_eq!(value(&through.get("a").await?), Some("1"));

    match through
        .patch("a", &PatchParams::default(), &merge_value("2"))
        .await
    {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409, "{status:?}");
            assert!(status.is_conflict(), "{status:?}");
            assert!(
                status.message.starts_with("injected conflict: "),
                "{status:?}"
            );
        }
        other => bail!("expected an injected conflict, got {other:?}"),
    }
    // The conflict came from the proxy: the API server never saw the patch.
    assert_eq!(value(&direct.get("a").await?), Some("1"));

    let patched = through
        .patch("a", &PatchParams::default(), &merge_value("3"))
        .await?;
    assert_eq!(value(&patched), Some("3"));
    assert_eq!(value(&direct.get("a").await?), Some("3"));
    assert_eq!(
        proxy.injected(),
        Injected {
            conflicts: 1,
            ..Injected::default()
        }
    );
    assert_eq!(proxy.count("patch", "configmaps"), 2);
    ns.delete().await
}

#[tokio::test]
async fn apiproxy_serves_stale_reads_of_earlier_answers() -> Result<()> {
    let (admin, ns, proxy) = setup("apiproxy-stale").await?;
    let through: Api<ConfigMap> = Api::namespaced(proxy.client().await?, &ns.name);
    let direct: Api<ConfigMap> = Api::namespaced(admin, &ns.name);
    direct
        .create(&PostParams::default(), &config_map("s", "1"))
        .await?;
    proxy.stale_next(Matcher::resource("configmaps").namespace(&ns.name), 1);

    // Until the proxy has seen two different answers it has nothing stale to serve: the
    // reads are forwarded and the fault waits.
    assert_eq!(value(&through.get("s").await?), Some("1"));
    direct
        .patch("s", &PatchParams::default(), &merge_value("2"))
        .await?;
    assert_eq!(value(&through.get("s").await?), Some("2"));
    assert_eq!(proxy.injected().stale_reads, 0);

    // Now the older answer comes back once, as from a lagging cache, then the current one.
    assert_eq!(value(&through.get("s").await?), Some("1"));
    assert_eq!(proxy.injected().stale_reads, 1);
    assert_eq!(value(&through.get("s").await?), Some("2"));
    assert_eq!(value(&direct.get("s").await?), Some("2"));
    assert_eq!(proxy.count("get", "configmaps"), 4);
    ns.delete().await
}

#[tokio::test]
async fn apiproxy_holds_writes_then_drops_or_forwards_them() -> Result<()> {
    let (admin, ns, proxy) = setup("apiproxy-hold").await?;
    let through: Api<ConfigMap> = Api::namespaced(proxy.client().await?, &ns.name);
    let direct: Api<ConfigMap> = Api::namespaced(admin, &ns.name);
    direct
        .create(&PostParams::default(), &config_map("h", "1"))
        .await?;
    let matcher = Matcher::resource("configmaps")
        .verbs(&["patch"])
        .namespace(&ns.name);

    // Dropped: the client gets a connection error, the API server never gets the patch.
    let mut held = proxy.hold_next(matcher.clone());
    let patch = {
        let through = through.clone();
        tokio::spawn(async move {
            through
                .patch("h", &PatchParams::default(), &merge_value("2"))
                .await
        })
    };
    let call = tokio::time::timeout(WAIT, held.arrived())
        .await
        .context("the held patch did not arrive")??;
    assert_eq!(call.verb, "patch");
    assert_eq!(call.resource, "configmaps");
    assert_eq!(call.name.as_deref(), Some("h"));
    assert_eq!(call.namespace.as_deref(), Some(ns.name.as_str()));
    assert!(!patch.is_finished(), "the held patch was answered");
    assert_eq!(value(&direct.get("h").await?), Some("1"));
    held.release_drop();
    match tokio::time::timeout(WAIT, patch).await?? {
        Ok(cm) => bail!("a dropped patch succeeded: {cm:?}"),
        Err(kube::Error::Api(status)) => bail!("a dropped patch got an answer: {status:?}"),
        Err(_connection_error) => {}
    }
    assert_eq!(value(&direct.get("h").await?), Some("1"));

    // Forwarded: it completes once released.
    let mut held = proxy.hold_next(matcher);
    let patch = {
        let through = through.clone();
        tokio::spawn(async move {
            through
                .patch("h", &PatchParams::default(), &merge_value("3"))
                .await
        })
    };
    tokio::time::timeout(WAIT, held.arrived())
        .await
        .context("the second held patch did not arrive")??;
    assert_eq!(value(&direct.get("h").await?), Some("1"));
    held.release_forward();
    let patched = tokio::time::timeout(WAIT, patch).await???;
    assert_eq!(value(&patched), Some("3"));
    assert_eq!(value(&direct.get("h").await?), Some("3"));

    // The client connects again after a dropped connection.
    let list = through.list(&ListParams::default()).await?;
    assert_eq!(
        list.items.iter().filter_map(value).collect::<Vec<_>>(),
        ["3"]
    );
    assert_eq!(
        proxy.injected(),
        Injected {
            holds: 2,
            drops: 1,
            ..Injected::default()
        }
    );
    ns.delete().await
}

#[tokio::test]
async fn apiproxy_watch_sees_events_as_they_happen() -> Result<()> {
    // A watch started before any object exists sees each creation separately, while the
    // response stays open: the proxy passes frames on as they come.
    let (admin, ns, proxy) = setup("apiproxy-stream").await?;
    let through: Api<ConfigMap> = Api::namespaced(proxy.client().await?, &ns.name);
    let direct: Api<ConfigMap> = Api::namespaced(admin, &ns.name);
    let version = through
        .list(&ListParams::default())
        .await?
        .metadata
        .resource_version
        .context("a list without resourceVersion")?;
    let mut watch = open_watch(&through, &version).await?;
    for i in 0..3 {
        let name = format!("w{i}");
        direct
            .create(&PostParams::default(), &config_map(&name, "1"))
            .await?;
        let added = tokio::time::timeout(WAIT, async {
            while let Some(event) = watch.try_next().await? {
                match event {
                    WatchEvent::Added(cm) => return Ok(cm),
                    WatchEvent::Bookmark(_) => {}
                    other => bail!("unexpected event {other:?}"),
                }
            }
            bail!("the watch ended")
        })
        .await
        .with_context(|| format!("no event for {name} through the proxy"))??;
        assert_eq!(added.metadata.name.as_deref(), Some(&*name));
    }
    ns.delete().await
}

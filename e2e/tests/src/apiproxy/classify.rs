//! What a request to the API server is: its verb, resource and namespace, named the way RBAC
//! and the audit log name them, so harnesses count and target requests the way they think of
//! them ("patch appliancepairs/status"), not as URLs.

use std::collections::BTreeSet;

use http::Method;

/// One request, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// `get`, `list`, `watch`, `create`, `update`, `patch` or `delete` (a collection delete
    /// is a `delete` too); another HTTP method in lower case.
    pub verb: String,
    /// The plural resource, with the subresource if any (`appliancepairs/status`); for a
    /// request outside the resource API (discovery, `/version`), its path.
    pub resource: String,
    /// The namespace named by the path, if any.
    pub namespace: Option<String>,
    /// The object named by the path, if any.
    pub name: Option<String>,
}

impl Call {
    /// Whether the request changes something: the requests conflicts and holds apply to.
    pub fn is_write(&self) -> bool {
        matches!(self.verb.as_str(), "create" | "update" | "patch" | "delete")
    }

    /// Whether the request is a read that ends (a get or a list, not a watch): the requests a
    /// lagging cache can answer.
    pub fn is_read(&self) -> bool {
        matches!(self.verb.as_str(), "get" | "list")
    }
}

/// Classifies a request by its method, path and query.
pub fn classify(method: &Method, path: &str, query: Option<&str>) -> Call {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // `/api/v1/<rest>` for the core group, `/apis/<group>/<version>/<rest>` for the others.
    let rest = match segments.first().copied() {
        Some("api") if segments.len() > 2 => &segments[2..],
        Some("apis") if segments.len() > 3 => &segments[3..],
        _ => &[][..],
    };
    let mut rest = rest;
    // The deprecated `/watch/` path prefix is a watch as `?watch=true` is.
    let watch_prefix = rest.first() == Some(&"watch");
    if watch_prefix {
        rest = &rest[1..];
    }
    if rest.is_empty() {
        return Call {
            verb: read_verb(method, false, false, watch_prefix),
            resource: path.to_owned(),
            namespace: None,
            name: None,
        };
    }
    let mut namespace = None;
    // `namespaces/<ns>/<resource>...` is namespaced; `namespaces/<name>/status` (and
    // `/finalize`) is a subresource of the Namespace object itself.
    let namespace_subresource =
        rest.len() == 3 && rest[0] == "namespaces" && matches!(rest[2], "status" | "finalize");
    if rest.len() >= 3 && rest[0] == "namespaces" && !namespace_subresource {
        namespace = Some(rest[1].to_owned());
        rest = &rest[2..];
    }
    let name = rest.get(1).map(|n| (*n).to_owned());
    let resource = match rest.get(2) {
        Some(sub) => format!("{}/{sub}", rest[0]),
        None => rest[0].to_owned(),
    };
    let watch = watch_prefix || query.is_some_and(watch_query);
    Call {
        verb: read_verb(method, true, name.is_some(), watch),
        resource,
        namespace,
        name,
    }
}

fn read_verb(method: &Method, resource: bool, named: bool, watch: bool) -> String {
    let verb = match *method {
        Method::GET | Method::HEAD if watch => "watch",
        Method::GET | Method::HEAD if named || !resource => "get",
        Method::GET | Method::HEAD => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => return method.as_str().to_ascii_lowercase(),
    };
    verb.to_owned()
}

/// `watch=true` or `watch=1` among the query parameters (what the API server accepts).
fn watch_query(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| matches!(pair, "watch=true" | "watch=1" | "watch=True"))
}

/// Which requests a fault applies to: all of them by default; narrowed by verb, by a
/// substring of the resource and by namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matcher {
    verbs: Option<BTreeSet<String>>,
    resource: String,
    namespace: Option<String>,
}

impl Matcher {
    /// Every request (faults still only apply to the requests of their kind: writes, reads).
    pub fn any() -> Self {
        Self::default()
    }

    /// Requests whose resource contains `substring` (`appliancepairs` also matches
    /// `appliancepairs/status`; `/status` matches every status subresource).
    pub fn resource(substring: &str) -> Self {
        Self {
            resource: substring.to_owned(),
            ..Self::default()
        }
    }

    /// Only these verbs.
    pub fn verbs(mut self, verbs: &[&str]) -> Self {
        self.verbs = Some(verbs.iter().map(|v| (*v).to_owned()).collect());
        self
    }

    /// Only requests in this namespace (so tests sharing a proxy leave each other alone).
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = Some(namespace.to_owned());
        self
    }

    /// Whether `call` is one of the requests this matcher names.
    pub fn matches(&self, call: &Call) -> bool {
        self.verbs.as_ref().is_none_or(|v| v.contains(&call.verb))
            && call.resource.contains(&self.resource)
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| call.namespace.as_ref() == Some(ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(method: Method, uri: &str) -> (String, String, Option<String>) {
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        let c = classify(&method, path, query);
        (c.verb, c.resource, c.namespace)
    }

    fn owned(verb: &str, resource: &str, ns: Option<&str>) -> (String, String, Option<String>) {
        (verb.to_owned(), resource.to_owned(), ns.map(str::to_owned))
    }

    #[test]
    fn classifies_like_rbac() {
        let cases = [
            (
                Method::GET,
                "/apis/baton.dev/v1alpha1/namespaces/a/appliancepairs",
                owned("list", "appliancepairs", Some("a")),
            ),
            (
                Method::GET,
                "/apis/baton.dev/v1alpha1/namespaces/a/appliancepairs?watch=true&resourceVersion=5",
                owned("watch", "appliancepairs", Some("a")),
            ),
            (
                Method::GET,
                "/apis/baton.dev/v1alpha1/appliancepairs?watch=1",
                owned("watch", "appliancepairs", None),
            ),
            (
                Method::GET,
                "/api/v1/watch/namespaces/a/configmaps",
                owned("watch", "configmaps", Some("a")),
            ),
            (
                Method::PATCH,
                "/apis/baton.dev/v1alpha1/namespaces/a/appliancepairs/p/status?fieldManager=x",
                owned("patch", "appliancepairs/status", Some("a")),
            ),
            (
                Method::PUT,
                "/apis/coordination.k8s.io/v1/namespaces/a/leases/l",
                owned("update", "leases", Some("a")),
            ),
            (
                Method::POST,
                "/apis/events.k8s.io/v1/namespaces/a/events",
                owned("create", "events", Some("a")),
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a/secrets/s",
                owned("get", "secrets", Some("a")),
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/a",
                owned("delete", "namespaces", None),
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/a/finalize",
                owned("update", "namespaces/finalize", None),
            ),
            (Method::GET, "/version", owned("get", "/version", None)),
            (
                Method::GET,
                "/apis/baton.dev/v1alpha1",
                owned("get", "/apis/baton.dev/v1alpha1", None),
            ),
        ];
        for (method, uri, expected) in cases {
            assert_eq!(call(method, uri), expected, "{uri}");
        }
    }

    #[test]
    fn matchers_narrow_by_verb_resource_and_namespace() {
        let c = classify(
            &Method::PATCH,
            "/apis/baton.dev/v1alpha1/namespaces/a/appliancepairs/p/status",
            None,
        );
        assert!(Matcher::any().matches(&c));
        assert!(Matcher::resource("appliancepairs").matches(&c));
        assert!(Matcher::resource("/status").verbs(&["patch"]).matches(&c));
        assert!(!Matcher::resource("/status").verbs(&["update"]).matches(&c));
        assert!(Matcher::any().namespace("a").matches(&c));
        assert!(!Matcher::any().namespace("b").matches(&c));
        assert!(!Matcher::resource("leases").matches(&c));
    }
}

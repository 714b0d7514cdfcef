//! Parsing the Command API v1 XML replies into domain types.
//!
//! Replies declare `xmlns="http://www.bomgar.com/namespaces/API/command"`, but older and newer
//! appliances (and proxies) differ in whether they declare it, use a prefix, or omit it. So
//! this module never looks at namespaces: it reads the document into a small element tree
//! keyed by local names and maps that tree. Unknown elements are ignored, so an appliance that
//! adds fields does not break baton; missing required ones are a `BadResponse`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::model::{
    Access, ApiInfo, ApplianceInfo, ClientCount, ClientCounts, ClusterRole, FailoverRole, Health,
    Permissions, SyncRecord,
};
use crate::appliance::error::{Error, Result};

/// An XML element by local name, with its attributes, text and children.
#[derive(Debug, Default)]
pub(crate) struct Element {
    pub name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Element>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Text content with surrounding whitespace removed.
    pub fn text(&self) -> &str {
        self.text.trim()
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(Element::text)
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse_document(op: &'static str, body: &[u8]) -> Result<Element> {
    let text = std::str::from_utf8(body)
        .map_err(|e| Error::bad_response(op, format!("reply is not UTF-8: {e}")))?;
    let bad = |detail: String| Error::bad_response(op, detail);
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| {
            bad(format!(
                "malformed XML at byte {}: {e}",
                reader.buffer_position()
            ))
        })?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(bad("content after the root element".into()));
                }
                stack.push(open(op, &start)?);
            }
            Event::Empty(start) => {
                let element = open(op, &start)?;
                close(&mut stack, &mut root, element).map_err(bad)?;
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches its start tag.
                let element = stack
                    .pop()
                    .ok_or_else(|| bad("unbalanced end tag".into()))?;
                close(&mut stack, &mut root, element).map_err(bad)?;
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content()),
            Event::CData(t) => push_text(&mut stack, &t.xml10_content()),
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        let name = r.xml10_content();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| bad(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                    Err(e) => return Err(bad(format!("bad character reference: {e}"))),
                };
                push_text(&mut stack, &resolved);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(bad("document ends inside an element".into()));
    }
    root.ok_or_else(|| bad("empty reply".into()))
}

fn open(op: &'static str, start: &BytesStart<'_>) -> Result<Element> {
    let mut element = Element {
        name: start.local_name().as_ref().to_owned(),
        ..Element::default()
    };
    for attr in start.attributes() {
        let attr = attr.map_err(|e| Error::bad_response(op, format!("bad attribute: {e}")))?;
        // Namespace declarations are not data.
        if attr.key.as_ref() == "xmlns" || attr.key.as_ref().starts_with("xmlns:") {
            continue;
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| Error::bad_response(op, format!("bad attribute value: {e}")))?;
        element.attrs.push((
            attr.key.local_name().as_ref().to_owned(),
            value.into_owned(),
        ));
    }
    Ok(element)
}

fn close(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
) -> std::result::Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err("more than one root element".into()),
    }
    Ok(())
}

fn push_text(stack: &mut [Element], text: &str) {
    // Text outside the root is whitespace between declarations; ignore it.
    if let Some(top) = stack.last_mut() {
        top.text.push_str(text);
    }
}

/// Checks the root element, turning a documented `<error>` reply into `Error::Appliance`.
fn expect_root<'a>(op: &'static str, root: &'a Element, name: &str) -> Result<&'a Element> {
    if root.name == "error" {
        return Err(Error::Appliance {
            code: "command_error".into(),
            message: root.text().into(),
        });
    }
    if root.name != name {
        return Err(Error::bad_response(
            op,
            format!("expected <{name}>, got <{}>", root.name),
        ));
    }
    Ok(root)
}

fn required<'a>(op: &'static str, e: &'a Element, name: &str) -> Result<&'a Element> {
    e.child(name)
        .ok_or_else(|| Error::bad_response(op, format!("<{}> has no <{name}>", e.name)))
}

fn flag(op: &'static str, e: &Element) -> Result<bool> {
    match e.text() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        other => Err(Error::bad_response(
            op,
            format!("<{}> is {other:?}, not 1 or 0", e.name),
        )),
    }
}

fn failover_role(op: &'static str, e: &Element) -> Result<FailoverRole> {
    FailoverRole::parse(e.text())
        .ok_or_else(|| Error::bad_response(op, format!("unknown failover role {:?}", e.text())))
}

fn unix_time(op: &'static str, s: &str) -> Result<DateTime<Utc>> {
    s.trim()
        .parse::<i64>()
        .ok()
        .and_then(|ts| Utc.timestamp_opt(ts, 0).single())
        .ok_or_else(|| Error::bad_response(op, format!("bad unix timestamp {s:?}")))
}

/// An `<error>` root, if the reply is one (used for non-2xx statuses).
pub(crate) fn error_message(body: &[u8]) -> Option<String> {
    let root = parse_document("error", body).ok()?;
    (root.name == "error").then(|| root.text().to_owned())
}

pub(crate) fn health(body: &[u8]) -> Result<Health> {
    const OP: &str = "check_health";
    let doc = parse_document(OP, body)?;
    let root = expect_root(OP, &doc, "health_check")?;
    let appliance = required(OP, root, "appliance")?;
    let version_el = required(OP, root, "version")?;
    let version = version_el
        .text()
        .parse()
        .map_err(|e| Error::bad_response(OP, format!("{e}")))?;
    let last_sync = match root.child("last_data_sync_time") {
        None => None,
        Some(t) => {
            // Prefer the unix `ts` attribute; fall back to the ISO 8601 text.
            let at = match t.attr("ts") {
                Some(ts) => unix_time(OP, ts)?,
                None => DateTime::parse_from_rfc3339(t.text())
                    .map_err(|e| Error::bad_response(OP, format!("bad sync time: {e}")))?
                    .with_timezone(&Utc),
            };
            let status = root.child_text("last_data_sync_status").map(str::to_owned);
            Some(SyncRecord { at, status })
        }
    };
    Ok(Health {
        appliance_id: appliance.attr("id").unwrap_or_default().to_owned(),
        hostname: appliance.text().to_owned(),
        version,
        healthy: flag(OP, required(OP, root, "success")?)?,
        error_message: root
            .child_text("error_message")
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
        failover_role: match root.child("failover_role") {
            Some(e) => failover_role(OP, e)?,
            None => FailoverRole::None,
        },
        shared_ips: root
            .child("enabled_shared_ips")
            .map(|ips| ips.children("ip").map(|ip| ip.text().to_owned()).collect())
            .unwrap_or_default(),
        last_sync,
    })
}

pub(crate) fn appliances(body: &[u8]) -> Result<Vec<ApplianceInfo>> {
    const OP: &str = "get_appliances";
    let doc = parse_document(OP, body)?;
    let root = expect_root(OP, &doc, "appliances")?;
    root.children("appliance")
        .map(|a| {
            let text = |name| required(OP, a, name).map(|e| e.text().to_owned());
            let cluster_role = required(OP, a, "cluster_role")?;
            Ok(ApplianceInfo {
                id: a
                    .attr("id")
                    .ok_or_else(|| Error::bad_response(OP, "<appliance> has no id"))?
                    .to_owned(),
                name: text("name")?,
                public_hostname: text("public_hostname")?,
                cluster_role: ClusterRole::parse(cluster_role.text()).ok_or_else(|| {
                    Error::bad_response(
                        OP,
                        format!("unknown cluster role {:?}", cluster_role.text()),
                    )
                })?,
                failover_role: failover_role(OP, required(OP, a, "failover_role")?)?,
                accepting_connections: flag(OP, required(OP, a, "accepting_connections")?)?,
                timezone_offset: a
                    .child_text("timezone_offset")
                    .unwrap_or_default()
                    .to_owned(),
            })
        })
        .collect()
}

pub(crate) fn client_counts(body: &[u8]) -> Result<ClientCounts> {
    const OP: &str = "get_connected_client_list";
    let doc = parse_document(OP, body)?;
    let root = expect_root(OP, &doc, "connected_client_list")?;
    let mut counts = ClientCounts::default();
    // Without a summary there are no clients to count.
    let Some(summary) = root.child("connected_client_summary") else {
        return Ok(counts);
    };
    for appliance in summary.children("appliance_summary") {
        let id = appliance
            .attr("id")
            .ok_or_else(|| Error::bad_response(OP, "<appliance_summary> has no id"))?;
        let mut entry = ClientCount::default();
        for count in appliance.children("count") {
            let kind = count.attr("type").unwrap_or("unknown").to_owned();
            let n: u64 = count.text().parse().map_err(|_| {
                Error::bad_response(OP, format!("count {kind} is {:?}", count.text()))
            })?;
            entry.total += n;
            *entry.by_type.entry(kind).or_default() += n;
        }
        counts.per_appliance.insert(id.to_owned(), entry);
    }
    Ok(counts)
}

pub(crate) fn api_info(body: &[u8]) -> Result<ApiInfo> {
    const OP: &str = "get_api_info";
    let doc = parse_document(OP, body)?;
    let root = expect_root(OP, &doc, "api_information")?;
    let mut all = BTreeMap::new();
    if let Some(perms) = root.child("permissions") {
        for p in perms.children("permission") {
            if let Some(name) = p.attr("name") {
                all.insert(name.to_owned(), p.text().to_owned());
            }
        }
    }
    let command = match all.get("perm_command") {
        None => Access::Deny,
        Some(v) => Access::parse(v)
            .ok_or_else(|| Error::bad_response(OP, format!("unknown perm_command value {v:?}")))?,
    };
    let backup = matches!(
        all.get("perm_backup").map(String::as_str),
        Some("1" | "true")
    );
    Ok(ApiInfo {
        api_version: required(OP, root, "api_version")?.text().to_owned(),
        timestamp: root
            .child_text("timestamp")
            .map(|t| unix_time(OP, t))
            .transpose()?,
        permissions: Permissions {
            command,
            backup,
            all,
        },
    })
}

/// `set_failover_role` answers `<success>message</success>`.
pub(crate) fn success(op: &'static str, body: &[u8]) -> Result<String> {
    let doc = parse_document(op, body)?;
    Ok(expect_root(op, &doc, "success")?.text().to_owned())
}

#[cfg(test)]
#[path = "xml_tests.rs"]
mod tests;

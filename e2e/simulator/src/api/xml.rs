//! A tiny XML writer for the command API's fixed shapes: declaration, the command namespace
//! on the root, escaped text and attributes, two-space indentation.

use std::fmt::Write;

/// The namespace every command API response declares on its root.
pub(crate) const NAMESPACE: &str = "http://www.bomgar.com/namespaces/API/command";

/// Builds one document.
#[derive(Debug)]
pub(crate) struct XmlDoc {
    buf: String,
    stack: Vec<String>,
}

impl XmlDoc {
    /// `<?xml …?><root xmlns="…">`.
    pub(crate) fn new(root: &str) -> Self {
        let mut buf = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = write!(buf, "<{root} xmlns=\"{NAMESPACE}\">");
        Self {
            buf,
            stack: vec![root.to_owned()],
        }
    }

    /// A root element with text only: `<success xmlns="…">text</success>`.
    pub(crate) fn text_root(root: &str, text: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{NAMESPACE}\">{}</{root}>\n",
            escape(text)
        )
    }

    fn indent(&mut self) {
        self.buf.push('\n');
        for _ in 0..self.stack.len() {
            self.buf.push_str("  ");
        }
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.indent();
        let _ = write!(self.buf, "<{name}");
        for (k, v) in attrs {
            let _ = write!(self.buf, " {k}=\"{}\"", escape(v));
        }
        self.buf.push('>');
    }

    /// `<name attrs>text</name>`.
    pub(crate) fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        self.start_tag(name, attrs);
        let _ = write!(self.buf, "{}</{name}>", escape(text));
        self
    }

    /// Opens `<name attrs>`; close it with [`XmlDoc::close`].
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.start_tag(name, attrs);
        self.stack.push(name.to_owned());
        self
    }

    pub(crate) fn close(&mut self) -> &mut Self {
        if let Some(name) = self.stack.pop() {
            if self.stack.is_empty() {
                self.buf.push('\n');
            } else {
                self.indent();
            }
            let _ = write!(self.buf, "</{name}>");
        }
        self
    }

    pub(crate) fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.buf.push('\n');
        self.buf
    }
}

pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_escaped_elements() {
        let mut d = XmlDoc::new("appliances");
        d.open("appliance", &[("id", "a\"b")])
            .leaf("name", &[], "x<y")
            .close();
        let s = d.finish();
        assert!(s.contains("<appliances xmlns=\"http://www.bomgar.com/namespaces/API/command\">"));
        assert!(s.contains("<appliance id=\"a&quot;b\">"));
        assert!(s.contains("<name>x&lt;y</name>"));
        assert!(s.trim_end().ends_with("</appliances>"));
    }
}

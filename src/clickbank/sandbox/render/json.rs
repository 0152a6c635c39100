//! A small streaming JSON writer for the sandbox's answers.

use std::fmt::Write;

/// A small streaming JSON writer.
pub(crate) struct Json {
    buf: String,
    comma: bool,
}

impl Json {
    pub fn with_capacity(n: usize) -> Self {
        Json {
            buf: String::with_capacity(n),
            comma: false,
        }
    }

    fn sep(&mut self) {
        if self.comma {
            self.buf.push(',');
        }
    }

    pub fn begin_obj(&mut self) {
        self.sep();
        self.buf.push('{');
        self.comma = false;
    }

    pub fn end_obj(&mut self) {
        self.buf.push('}');
        self.comma = true;
    }

    pub fn begin_arr(&mut self) {
        self.sep();
        self.buf.push('[');
        self.comma = false;
    }

    pub fn end_arr(&mut self) {
        self.buf.push(']');
        self.comma = true;
    }

    pub fn key(&mut self, k: &str) {
        self.sep();
        escape_into(&mut self.buf, k);
        self.buf.push(':');
        self.comma = false;
    }

    pub fn str(&mut self, v: &str) {
        self.sep();
        escape_into(&mut self.buf, v);
        self.comma = true;
    }

    pub fn raw(&mut self, v: &str) {
        self.sep();
        self.buf.push_str(v);
        self.comma = true;
    }

    pub fn nil(&mut self) {
        self.raw(r#"{"@nil":"true"}"#);
    }

    /// `"k":"v"`.
    pub fn f_str(&mut self, k: &str, v: &str) {
        self.key(k);
        self.str(v);
    }

    /// `"k":"v"` or, in REST style, `"k":{"@nil":"true"}`.
    pub fn f_opt(&mut self, k: &str, v: Option<&str>) {
        self.key(k);
        match v {
            Some(v) => self.str(v),
            None => self.nil(),
        }
    }

    /// `"k":v` with raw JSON.
    pub fn f_raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.raw(v);
    }

    /// INS style: `"k":"v"` or `"k":null`.
    pub fn f_opt_null(&mut self, k: &str, v: Option<&str>) {
        self.key(k);
        match v {
            Some(v) => self.str(v),
            None => self.raw("null"),
        }
    }

    pub fn finish(self) -> String {
        self.buf
    }
}

fn escape_into(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub(super) fn b(v: bool) -> &'static str {
    if v {
        "true"
    } else {
        "false"
    }
}

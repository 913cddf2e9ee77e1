//! Typed access to one syntax node's arguments and properties. The reader
//! records which properties were read so that `finish` can report the rest
//! as unknown, with a suggestion from the ones the node accepts.

use std::collections::BTreeSet;

use crate::diag::{Code, Diagnostic, Diagnostics, Span, display_value, suggest::did_you_mean};
use crate::model::Spanned;
use crate::syntax::{Node, Value, ValueKind};

pub struct NodeReader<'a> {
    pub node: &'a Node,
    known: BTreeSet<&'static str>,
    diagnostics: &'a mut Diagnostics,
}

impl<'a> NodeReader<'a> {
    pub fn new(node: &'a Node, diagnostics: &'a mut Diagnostics) -> Self {
        NodeReader {
            node,
            known: BTreeSet::new(),
            diagnostics,
        }
    }

    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Reports a property whose value has the wrong type. `expected` is
    /// the type with its article ("a string"), and `help` the fix.
    fn property_type_error(&mut self, key: &str, value: &Value, expected: &str, help: String) {
        let diagnostic = Diagnostic::new(
            Code::InvalidValue,
            format!(
                "property `{key}` of `{}` must be {expected}, found {}",
                self.node.name,
                describe(value)
            ),
        )
        .label(value.span, format!("expected {expected}"))
        .help(help);
        self.diagnostics.push(diagnostic);
    }

    /// Reads a string property.
    pub fn string(&mut self, key: &'static str) -> Option<Spanned<String>> {
        self.known.insert(key);
        let prop = self.node.prop(key)?;
        match &prop.value.kind {
            ValueKind::String(text) => Some(Spanned::new(text.clone(), prop.value.span)),
            _ => {
                let value = prop.value.clone();
                let help = format!("quote the value: {key}=\"{}\"", unquoted_text(&value));
                self.property_type_error(key, &value, "a string", help);
                None
            }
        }
    }

    /// Reads a required string property; reports SC0005 when absent.
    pub fn required_string(&mut self, key: &'static str, help: &str) -> Option<Spanned<String>> {
        let present = self.node.prop(key).is_some();
        let value = self.string(key);
        if !present {
            let diagnostic = Diagnostic::new(
                Code::MissingValue,
                format!("`{}` needs the property `{key}`", self.node.name),
            )
            .label(self.node.name_span, format!("`{key}=` missing here"))
            .help(help.to_string());
            self.diagnostics.push(diagnostic);
        }
        value
    }

    pub fn bool(&mut self, key: &'static str) -> Option<Spanned<bool>> {
        self.known.insert(key);
        let prop = self.node.prop(key)?;
        match prop.value.kind {
            ValueKind::Bool(flag) => Some(Spanned::new(flag, prop.value.span)),
            _ => {
                let value = prop.value.clone();
                let help = format!("write {key}=#true or {key}=#false, without quotes");
                self.property_type_error(key, &value, "#true or #false", help);
                None
            }
        }
    }

    /// Reads a non-negative integer property that fits in `u64`.
    pub fn unsigned(&mut self, key: &'static str) -> Option<Spanned<u64>> {
        self.known.insert(key);
        let prop = self.node.prop(key)?;
        match prop.value.kind {
            ValueKind::Integer(number) if (0..=i128::from(u64::MAX)).contains(&number) => {
                Some(Spanned::new(number as u64, prop.value.span))
            }
            _ => {
                let value = prop.value.clone();
                let help = format!("write a whole number of 0 or more, without quotes, such as {key}=3");
                self.property_type_error(key, &value, "a non-negative integer", help);
                None
            }
        }
    }

    pub fn unsigned32(&mut self, key: &'static str) -> Option<Spanned<u32>> {
        let value = self.unsigned(key)?;
        match u32::try_from(value.value) {
            Ok(small) => Some(Spanned::new(small, value.span)),
            Err(_) => {
                self.push(
                    Diagnostic::new(Code::InvalidValue, format!("property `{key}` is out of range"))
                        .label(value.span, "larger than 4294967295")
                        .help("use a value that fits in 32 bits"),
                );
                None
            }
        }
    }

    /// Reads a file mode written as an octal string (`"0755"`, `"755"`).
    pub fn mode(&mut self, key: &'static str) -> Option<Spanned<u32>> {
        self.known.insert(key);
        let prop = self.node.prop(key)?;
        let parsed = match &prop.value.kind {
            ValueKind::String(text) => {
                let digits = text.strip_prefix("0o").unwrap_or(text);
                (!digits.is_empty() && digits.len() <= 5)
                    .then(|| u32::from_str_radix(digits, 8).ok())
                    .flatten()
                    .filter(|mode| *mode <= 0o7777)
            }
            _ => None,
        };
        if parsed.is_none() {
            let span = prop.value.span;
            self.push(
                Diagnostic::new(
                    Code::InvalidValue,
                    format!("property `{key}` must be an octal file mode"),
                )
                .label(span, "not an octal mode")
                .help(format!("write the mode as an octal string, for example {key}=\"0755\"")),
            );
        }
        parsed.map(|mode| Spanned::new(mode, prop.value.span))
    }

    /// Reads a string property restricted to a set of words.
    pub fn choice<T>(
        &mut self,
        key: &'static str,
        choices: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<Spanned<T>> {
        let text = self.string(key)?;
        match parse(&text.value) {
            Some(value) => Some(Spanned::new(value, text.span)),
            None => {
                let mut help = format!("use one of: {}", choices.join(", "));
                if let Some(suggestion) = did_you_mean(&text.value, choices.iter().copied()) {
                    help = format!("did you mean `{suggestion}`? {help}");
                }
                self.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        format!("invalid {key} `{}`", display_value(&text.value)),
                    )
                    .label(text.span, format!("not a valid {key}"))
                    .help(help),
                );
                None
            }
        }
    }

    /// Reads all positional arguments as strings.
    pub fn string_args(&mut self, what: &str) -> Vec<Spanned<String>> {
        let mut out = Vec::new();
        for value in &self.node.args {
            match &value.kind {
                ValueKind::String(text) => out.push(Spanned::new(text.clone(), value.span)),
                // Ports and similar are naturally written as bare numbers.
                ValueKind::Integer(number) => out.push(Spanned::new(number.to_string(), value.span)),
                _ => self.diagnostics.push(
                    Diagnostic::new(
                        Code::InvalidValue,
                        format!(
                            "`{}` takes {what} as a string or an integer, found {}",
                            self.node.name,
                            describe(value)
                        ),
                    )
                    .label(value.span, "expected a string")
                    .help(format!("write {what} in double quotes")),
                ),
            }
        }
        out
    }

    /// Reads exactly one positional string argument.
    pub fn one_string_arg(&mut self, what: &str, help: &str) -> Option<Spanned<String>> {
        let args = self.string_args(what);
        if self.node.args.is_empty() {
            self.push(
                Diagnostic::new(Code::MissingValue, format!("`{}` needs {what}", self.node.name))
                    .label(self.node.name_span, format!("{what} missing"))
                    .help(help.to_string()),
            );
            return None;
        }
        if self.node.args.len() > 1 {
            let extra = &self.node.args[1];
            let span = Span::new(
                extra.span.start,
                self.node.args.last().map_or(0, |v| v.span.end()) - extra.span.start,
            );
            self.push(
                Diagnostic::new(
                    Code::UnknownProperty,
                    format!("`{}` takes one argument", self.node.name),
                )
                .label(span, "unexpected extra arguments")
                .help(help.to_string()),
            );
        }
        args.into_iter().next()
    }

    /// Reports properties the node does not take and, when `max_args` is
    /// set, positional arguments beyond it.
    pub fn finish(self, max_args: Option<usize>) {
        for prop in &self.node.props {
            if self.known.contains(prop.key.as_str()) {
                continue;
            }
            let mut help = if self.known.is_empty() {
                format!("`{}` takes no properties", self.node.name)
            } else {
                format!(
                    "`{}` takes: {}",
                    self.node.name,
                    self.known.iter().copied().collect::<Vec<_>>().join(", ")
                )
            };
            if let Some(suggestion) = did_you_mean(&prop.key, self.known.iter().copied()) {
                help = format!("did you mean `{suggestion}`? {help}");
            }
            self.diagnostics.push(
                Diagnostic::new(
                    Code::UnknownProperty,
                    format!("unknown property `{}` on `{}`", prop.key, self.node.name),
                )
                .label(prop.key_span, "unknown property")
                .help(help),
            );
        }

        if let Some(max) = max_args
            && self.node.args.len() > max
        {
            let first = &self.node.args[max];
            let last = self.node.args.last().map_or(first.span, |v| v.span);
            let message = match max {
                0 => format!("`{}` takes no arguments", self.node.name),
                1 => format!("`{}` takes one argument", self.node.name),
                n => format!("`{}` takes at most {n} arguments", self.node.name),
            };
            self.diagnostics.push(
                Diagnostic::new(Code::UnknownProperty, message)
                    .label(
                        Span::new(first.span.start, last.end() - first.span.start),
                        "unexpected arguments",
                    )
                    .help("remove the extra arguments or write them as properties (key=\"value\")"),
            );
        }
    }
}

/// Describes a value for a type error, such as "the integer -1".
fn describe(value: &Value) -> String {
    match &value.kind {
        ValueKind::String(text) => format!("the string \"{}\"", display_value(text)),
        ValueKind::Integer(number) => format!("the integer {number}"),
        ValueKind::Float(number) => format!("the decimal number {number}"),
        ValueKind::Bool(flag) => format!("#{flag}"),
        ValueKind::Null => "#null".to_string(),
    }
}

/// Returns the value's text as it would read between quotes.
fn unquoted_text(value: &Value) -> String {
    match &value.kind {
        ValueKind::String(text) => display_value(text),
        ValueKind::Integer(number) => number.to_string(),
        ValueKind::Float(number) => number.to_string(),
        ValueKind::Bool(flag) => flag.to_string(),
        ValueKind::Null => "...".to_string(),
    }
}

/// Reports a node that does not belong where it is.
pub fn unknown_node(node: &Node, place: &str, known: &[&str]) -> Diagnostic {
    let mut help = format!("{place} accepts: {}", known.join(", "));
    if let Some(suggestion) = did_you_mean(&node.name, known.iter().copied()) {
        help = format!("did you mean `{suggestion}`? {help}");
    }
    Diagnostic::new(Code::UnknownNode, format!("unknown node `{}` {place}", node.name))
        .label(node.name_span, "not known here")
        .help(help)
}

/// Reports a block (`{ ... }`) on a node that takes none.
pub fn no_children(node: &Node, diagnostics: &mut Diagnostics) {
    if let Some(child) = node.children.first() {
        diagnostics.push(
            Diagnostic::new(Code::UnknownNode, format!("`{}` takes no child nodes", node.name))
                .label(child.name_span, "unexpected child node")
                .help(format!("remove the `{{ ... }}` block after `{}`", node.name)),
        );
    }
}

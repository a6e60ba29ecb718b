//! The server's log lines: what a request's lines carry ([`RequestContext`]) and how a line is written
//! ([`LineFormat`]).
//!
//! A request's context (its id, method, route and, once authenticated, its principal) rides in a task-local value
//! for the life of the request rather than in a `tracing` span. A span costs the subscriber a registry entry, a
//! formatted copy of its fields and an enter and exit on every poll whether or not anything is logged inside it:
//! about a sixth of a GET's throughput with one span per request (`cargo xtask bench http`). The task-local costs a
//! pointer, and only a line that is written reads it. [`LineFormat`] writes it on every line logged inside the
//! request, as the span's fields were: `request{request_id=… method=GET route=/connections/{name} principal=…}:` in
//! text, a `"request"` object in JSON. Like a span, it follows the request's own task, not a task that task spawns.
//!
//! [`LineFormat`] writes text or JSON lines in the layout of `tracing-subscriber`'s `Full` and `Json` formats (the
//! timestamp, the level, the spans with their fields, the target, the message and the fields), by hand: the
//! generic formatter cost a GET about a fifth of its throughput for its one access line.

use std::cell::OnceCell;
use std::fmt::{self, Write as _};

use serde::ser::{SerializeMap as _, Serializer as _};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// What every line logged while a request is handled says about the request.
#[derive(Debug)]
pub(crate) struct RequestContext {
    /// The request id (echoed in `x-request-id`).
    pub(crate) id: String,
    /// The method, as sent.
    pub(crate) method: axum::http::Method,
    /// The route template the request matched (`/connections/{name}`), or `unmatched`.
    pub(crate) route: String,
    /// The principal, once the bearer token was checked.
    principal: OnceCell<String>,
}

impl RequestContext {
    pub(crate) fn new(id: String, method: axum::http::Method, route: String) -> Self {
        Self { id, method, route, principal: OnceCell::new() }
    }

    /// `future` with this context on every line it logs; the context is given back by the future's `take_value`.
    pub(crate) fn scope<F: Future>(self, future: F) -> tokio::task::futures::TaskLocalFuture<Self, F> {
        REQUEST.scope(self, future)
    }
}

/// Records the principal of the request being handled, if any (the first one recorded stays).
pub(crate) fn record_principal(principal: &str) {
    let _ = REQUEST.try_with(|request| {
        request.principal.get_or_init(|| principal.to_owned());
    });
}

/// Text (`tracing-subscriber`'s `Full` layout) or JSON (one object per line, the event's fields flattened).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// `2026-12-07T19:13:16.123456Z  INFO request{…}: lanyard_server: handled status=200 micros=35`.
    Text,
    /// `{"timestamp":"…","level":"INFO","message":"handled","status":200,"micros":35,"target":"lanyard_server",
    /// "request":{…}}`; the fields of the innermost `tracing` span, if any, under `"span"`.
    Json,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        match self {
            Self::Text => text_line(ctx, writer, event),
            Self::Json => json_line(ctx, writer, event),
        }
    }
}

/// One text line.
fn text_line<S, N>(ctx: &FmtContext<'_, S, N>, mut out: Writer<'_>, event: &Event<'_>) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let ansi = out.has_ansi_escapes();
    let meta = event.metadata();
    with_timestamp(
        |timestamp| {
            if ansi { write!(out, "\x1b[2m{timestamp}\x1b[0m ") } else { write!(out, "{timestamp} ") }
        },
    )?;
    let level = meta.level();
    if ansi {
        write!(out, "\x1b[{}m{:>5}\x1b[0m ", level_colour(level), level.as_str())?;
    } else {
        write!(out, "{:>5} ", level.as_str())?;
    }
    REQUEST
        .try_with(|request| -> fmt::Result {
            write!(out, "request{{request_id={} method={} route={}", request.id, request.method, request.route)?;
            if let Some(principal) = request.principal.get() {
                write!(out, " principal={principal}")?;
            }
            out.write_str("}: ")
        })
        .unwrap_or(Ok(()))?;
    if let Some(scope) = ctx.event_scope() {
        for span in scope.from_root() {
            out.write_str(span.name())?;
            let extensions = span.extensions();
            match extensions.get::<FormattedFields<N>>() {
                Some(fields) if !fields.fields.is_empty() => write!(out, "{{{fields}}}: ")?,
                _ => out.write_str(": ")?,
            }
        }
    }
    write!(out, "{}: ", meta.target())?;
    let mut fields = TextFields { out: &mut out, first: true, result: Ok(()) };
    event.record(&mut fields);
    fields.result?;
    writeln!(out)
}

/// The SGR colour of a level's name.
fn level_colour(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "31",
        Level::WARN => "33",
        Level::INFO => "32",
        Level::DEBUG => "34",
        Level::TRACE => "35",
    }
}

/// The event's fields in text: the message as it is, then ` name=value` each, strings quoted (as `Debug` shows
/// them), so that a value cannot pass for another field.
struct TextFields<'a, 'w> {
    out: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl TextFields<'_, '_> {
    fn separate(&mut self) -> fmt::Result {
        if std::mem::replace(&mut self.first, false) { Ok(()) } else { self.out.write_char(' ') }
    }

    /// The message, escaped.
    fn message(&mut self, value: fmt::Arguments<'_>) {
        if self.result.is_ok() {
            self.result = self.separate().and_then(|()| Escaped(&mut *self.out).write_fmt(value));
        }
    }

    /// ` name=value`, the value escaped.
    fn field(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_ok() {
            self.result = self
                .separate()
                .and_then(|()| write!(self.out, "{}=", field.name()))
                .and_then(|()| Escaped(&mut *self.out).write_fmt(value));
        }
    }
}

/// Writes through to the line, escaping what could drive a terminal or forge a line: ESC, BEL, BS, FF, DEL and
/// the C1 controls (as `tracing-subscriber`'s text format does), and CR and LF, so that a record is one line.
struct Escaped<'a, W: fmt::Write + ?Sized>(&'a mut W);

impl<W: fmt::Write + ?Sized> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let escaped =
            |c: char| matches!(c, '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\r' | '\n' | '\u{80}'..='\u{9f}');
        let mut rest = text;
        while let Some(at) = rest.find(escaped) {
            self.0.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or_default();
            match c {
                '\r' => self.0.write_str("\\r")?,
                '\n' => self.0.write_str("\\n")?,
                c if u32::from(c) < 0x80 => write!(self.0, "\\x{:02x}", u32::from(c))?,
                c => write!(self.0, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.write_str(rest)
    }
}

impl Visit for TextFields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message(format_args!("{value}"));
        } else {
            self.field(field, format_args!("{value:?}"));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.field(field, format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.field(field, format_args!("{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.field(field, format_args!("{value}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.field(field, format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message(format_args!("{value:?}"));
        } else {
            self.field(field, format_args!("{value:?}"));
        }
    }
}

/// One JSON line.
fn json_line<S, N>(ctx: &FmtContext<'_, S, N>, mut out: Writer<'_>, event: &Event<'_>) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let meta = event.metadata();
    let mut line = serde_json::Serializer::new(FmtIo(&mut out));
    let written = (|| -> Result<(), serde_json::Error> {
        let mut map = line.serialize_map(None)?;
        with_timestamp(|timestamp| map.serialize_entry("timestamp", timestamp))?;
        map.serialize_entry("level", meta.level().as_str())?;
        let mut fields = JsonFields { map, result: Ok(()) };
        event.record(&mut fields);
        fields.result?;
        let mut map = fields.map;
        map.serialize_entry("target", meta.target())?;
        REQUEST.try_with(|request| map.serialize_entry("request", &JsonRequest(request))).unwrap_or(Ok(()))?;
        let span = event.parent().and_then(|id| ctx.span(id)).or_else(|| ctx.lookup_current());
        if let Some(span) = span {
            let extensions = span.extensions();
            let fields = extensions.get::<FormattedFields<N>>().map_or("", |fields| fields.fields.as_str());
            // With `JsonFields` a span's fields are one JSON object; otherwise they are kept as text.
            let mut object =
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(fields).unwrap_or_else(|_| {
                    let mut object = serde_json::Map::new();
                    if !fields.is_empty() {
                        object.insert("fields".to_owned(), fields.into());
                    }
                    object
                });
            object.insert("name".to_owned(), span.name().into());
            map.serialize_entry("span", &object)?;
        }
        map.end()
    })();
    written.map_err(|_| fmt::Error)?;
    writeln!(out)
}

/// The request context as a JSON object.
struct JsonRequest<'a>(&'a RequestContext);

impl serde::Serialize for JsonRequest<'_> {
    fn serialize<T: serde::Serializer>(&self, serializer: T) -> Result<T::Ok, T::Error> {
        let request = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("request_id", &request.id)?;
        map.serialize_entry("method", request.method.as_str())?;
        map.serialize_entry("route", &request.route)?;
        if let Some(principal) = request.principal.get() {
            map.serialize_entry("principal", principal)?;
        }
        map.end()
    }
}

/// The event's fields as entries of the line's object: numbers and booleans as such, everything else as a string.
struct JsonFields<M> {
    map: M,
    result: Result<(), serde_json::Error>,
}

impl<M: serde::ser::SerializeMap<Error = serde_json::Error>> JsonFields<M> {
    fn entry<V: serde::Serialize + ?Sized>(&mut self, field: &Field, value: &V) {
        if self.result.is_ok() {
            self.result = self.map.serialize_entry(field.name(), value);
        }
    }
}

impl<M: serde::ser::SerializeMap<Error = serde_json::Error>> Visit for JsonFields<M> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, &value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.entry(field, &value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, &value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.entry(field, &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, &format!("{value:?}"));
    }
}

/// `serde_json` writes bytes; a line is a `fmt::Write`. What `serde_json` writes is always whole UTF-8.
struct FmtIo<'a, 'w>(&'a mut Writer<'w>);

impl std::io::Write for FmtIo<'_, '_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let text = std::str::from_utf8(bytes).map_err(std::io::Error::other)?;
        self.0.write_str(text).map_err(std::io::Error::other)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    /// The last whole second a line of this thread was stamped with, and its text (`2026-12-07T19:13:16`).
    static SECOND: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
}

/// Calls `write` with the current time as RFC 3339 in UTC with microseconds (`2026-12-07T19:13:16.123456Z`), as
/// `tracing-subscriber`'s default timer writes it. The date and time of day are made once per second per thread.
fn with_timestamp<R>(write: impl FnOnce(&str) -> R) -> R {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let second = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != second {
            text.clear();
            match jiff::Timestamp::from_second(second) {
                Ok(at) => {
                    let _ = write!(text, "{}", at.strftime("%Y-%m-%dT%H:%M:%S"));
                }
                Err(_) => text.push_str("9999-12-31T23:59:59"),
            }
            *cached = second;
        }
        let length = text.len();
        let _ = write!(text, ".{:06}Z", now.subsec_micros());
        let answer = write(text);
        text.truncate(length);
        answer
    })
}

#[cfg(test)]
mod tests {
    use lanyard_testsupport::LogCapture;

    use super::*;

    /// The lines `log` writes through a subscriber with `format`, each without its timestamp.
    fn logged(format: LineFormat, log: impl FnOnce()) -> Vec<String> {
        let lines = LogCapture::default();
        let writer = lines.clone();
        let builder = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false);
        let subscriber: Box<dyn Subscriber + Send + Sync> = match format {
            LineFormat::Text => Box::new(builder.event_format(format).finish()),
            LineFormat::Json => Box::new(
                builder.fmt_fields(tracing_subscriber::fmt::format::JsonFields::new()).event_format(format).finish(),
            ),
        };
        tracing::subscriber::with_default(subscriber, log);
        lines
            .text()
            .lines()
            .map(|line| match format {
                LineFormat::Text => {
                    let (stamp, rest) = line.split_once(' ').unwrap();
                    assert!(stamp.parse::<jiff::Timestamp>().is_ok(), "{line}");
                    rest.to_owned()
                }
                LineFormat::Json => line.to_owned(),
            })
            .collect()
    }

    /// An access line and a warning inside a request whose principal is known, then a line outside any request, then
    /// one inside a span.
    fn request_lines() {
        let context =
            RequestContext::new("abc-1".to_owned(), axum::http::Method::GET, "/connections/{name}".to_owned());
        REQUEST.sync_scope(context, || {
            tracing::warn!(reason = "a \"quoted\" value", "before authentication");
            record_principal("admin");
            record_principal("someone else");
            tracing::info!(status = 200u16, micros = 35u64, "handled");
        });
        tracing::info!(ok = true, "outside");
        tracing::info_span!("runner", node = "n1").in_scope(|| tracing::info!(batch = 3i64, "inside a span"));
    }

    #[test]
    fn text_lines_carry_the_request_and_the_spans() {
        let target = module_path!();
        assert_eq!(
            logged(LineFormat::Text, request_lines),
            [
                format!(
                    " WARN request{{request_id=abc-1 method=GET route=/connections/{{name}}}}: {target}: before \
                     authentication reason=\"a \\\"quoted\\\" value\""
                ),
                format!(
                    " INFO request{{request_id=abc-1 method=GET route=/connections/{{name}} principal=admin}}: \
                     {target}: handled status=200 micros=35"
                ),
                format!(" INFO {target}: outside ok=true"),
                format!(" INFO runner{{node=\"n1\"}}: {target}: inside a span batch=3"),
            ]
        );
    }

    #[test]
    fn json_lines_are_objects_with_the_request_and_the_span() {
        let lines: Vec<serde_json::Value> =
            logged(LineFormat::Json, request_lines).iter().map(|line| serde_json::from_str(line).unwrap()).collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        for line in &lines {
            assert!(line["timestamp"].as_str().unwrap().parse::<jiff::Timestamp>().is_ok(), "{line}");
            assert_eq!(line["target"], module_path!());
        }
        let request = serde_json::json!({"request_id": "abc-1", "method": "GET", "route": "/connections/{name}"});
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["message"], "before authentication");
        assert_eq!(lines[0]["reason"], "a \"quoted\" value");
        assert_eq!(lines[0]["request"], request);
        let mut authenticated = request.clone();
        authenticated["principal"] = "admin".into();
        assert_eq!(lines[1]["request"], authenticated);
        assert_eq!((&lines[1]["status"], &lines[1]["micros"]), (&200.into(), &35.into()));
        assert_eq!((&lines[2]["message"], &lines[2]["ok"]), (&"outside".into(), &true.into()));
        assert!(lines[2].get("request").is_none() && lines[2].get("span").is_none(), "{}", lines[2]);
        assert_eq!(lines[3]["span"], serde_json::json!({"node": "n1", "name": "runner"}));
        assert_eq!(lines[3]["batch"], 3);
    }

    #[test]
    fn text_lines_escape_what_could_drive_a_terminal_or_forge_a_line() {
        let lines = logged(LineFormat::Text, || {
            let error = std::io::Error::other("refused\n2026-01-01T00:00:00.000000Z  INFO forged");
            tracing::warn!(%error, "\x1b[31mred\x1b[0m\u{9b}2J and\r\na second line");
        });
        assert_eq!(
            lines,
            [format!(
                " WARN {}: \\x1b[31mred\\x1b[0m\\u{{9b}}2J and\\r\\na second line error=refused\\n\
                 2026-01-01T00:00:00.000000Z  INFO forged",
                module_path!()
            )]
        );
    }

    #[test]
    fn the_timestamp_is_rfc3339_with_microseconds_in_utc() {
        let stamp = with_timestamp(str::to_owned);
        assert_eq!(stamp.len(), "2026-12-07T19:13:16.123456Z".len(), "{stamp}");
        let parsed: jiff::Timestamp = stamp.parse().unwrap();
        let drift = jiff::Timestamp::now().duration_since(parsed).as_secs_f64().abs();
        assert!(drift < 60.0, "{stamp} is {drift} s away from now");
        // The cached second is reused, and the fraction still follows the clock.
        let again = with_timestamp(str::to_owned);
        assert!(again.ends_with('Z') && again.len() == stamp.len(), "{again}");
    }
}

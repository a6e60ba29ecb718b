//! JSON lines: one object per line. Values are taken from the text as written (a number keeps every digit; a
//! nested value is its JSON text), never through a float.

use std::borrow::Cow;
use std::fmt;

use lanyard_core::TableRef;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::columns::find;
use super::{Cell, Column, LoadError, Prepared, Rows};

/// Parses every line, collecting the columns in the order their keys first appear.
pub(crate) fn prepare<'a>(
    text: &'a str,
    table: &TableRef,
    table_columns: &[Column],
) -> Result<Prepared<'a>, LoadError> {
    let mut columns: Vec<usize> = Vec::new();
    // Each row as (slot in `columns`, cell) pairs; made rectangular at the end.
    let mut parsed: Vec<(u64, Vec<(usize, Cell<'a>)>)> = Vec::new();
    for (number, line) in text.split('\n').enumerate() {
        let line_no = number as u64 + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let object = object(line).map_err(|reason| LoadError::rejected(line_no, None, reason))?;
        let mut cells = Vec::with_capacity(object.len());
        for (key, raw) in object {
            let index = find(&key, table_columns)
                .map_err(|m| LoadError::rejected(line_no, Some(&key), m.reason(&key, table)))?;
            let slot = match columns.iter().position(|&c| c == index) {
                Some(slot) => slot,
                None => {
                    columns.push(index);
                    columns.len() - 1
                }
            };
            if cells.iter().any(|(s, _)| *s == slot) {
                let column = &table_columns[index].name;
                let reason = format!("two keys of the object name column \"{column}\"");
                return Err(LoadError::rejected(line_no, Some(column), reason));
            }
            let cell = cell(raw).map_err(|reason| LoadError::rejected(line_no, Some(&key), reason))?;
            cells.push((slot, cell));
        }
        parsed.push((line_no, cells));
    }
    let rows = parsed
        .into_iter()
        .map(|(line, cells)| {
            let mut row = vec![Cell::Null; columns.len()];
            for (slot, cell) in cells {
                row[slot] = cell;
            }
            (line, row)
        })
        .collect();
    Ok(Prepared { columns, rows: Rows::Json(rows) })
}

/// A JSON object's members in their order, values unparsed; a repeated key is kept twice.
struct Object<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Object<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(member) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(Object(members))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// The members of the object on `line`, or why it is not one.
fn object(line: &str) -> Result<Vec<(String, &RawValue)>, String> {
    if line.starts_with('{')
        && let Ok(Object(members)) = serde_json::from_str::<Object<'_>>(line)
    {
        return Ok(members);
    }
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(value) => {
            let kind = match value {
                serde_json::Value::Null => "null",
                serde_json::Value::Bool(_) => "a boolean",
                serde_json::Value::Number(_) => "a number",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::Object(_) => "an object",
            };
            Err(format!("the line is {kind}, not a JSON object"))
        }
        Err(error) => {
            let message = error.to_string();
            let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m);
            Err(format!("invalid JSON at character {}: {message}", error.column()))
        }
    }
}

/// The cell of one raw JSON value.
fn cell(raw: &RawValue) -> Result<Cell<'_>, String> {
    let text = raw.get().trim();
    Ok(match text.as_bytes().first() {
        Some(b'n') => Cell::Null,
        Some(b't') => Cell::Bool(true),
        Some(b'f') => Cell::Bool(false),
        Some(b'"') => {
            let value: Cow<'_, str> = serde_json::from_str(text).map_err(|e| format!("invalid JSON string: {e}"))?;
            Cell::Text(value)
        }
        _ => Cell::Text(Cow::Borrowed(text)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<Column> {
        ["id", "name", "doc", "flag"].iter().map(|n| Column { name: (*n).into(), generated: false }).collect()
    }

    type JsonRows<'a> = Vec<(u64, Vec<Cell<'a>>)>;

    fn prepared(text: &str) -> Result<(Vec<usize>, JsonRows<'_>), LoadError> {
        let prepared = prepare(text, &"t".parse().unwrap(), &table())?;
        match prepared.rows {
            Rows::Json(rows) => Ok((prepared.columns, rows)),
            Rows::Csv { .. } => unreachable!(),
        }
    }

    fn text(t: &str) -> Cell<'_> {
        Cell::Text(Cow::Borrowed(t))
    }

    #[test]
    fn keys_name_columns_and_absent_keys_are_null() {
        let text_ = concat!(
            "{\"id\": 12345678901234567890123, \"name\": \"a\\\"b\"}\n\n  \r\n",
            "{\"ID\":2,\"doc\":{\"x\": [1, null]},\"flag\":true,\"name\":null}\r\n",
        );
        let (columns, rows) = prepared(text_).unwrap();
        assert_eq!(columns, [0, 1, 2, 3]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0], (1, vec![text("12345678901234567890123"), text("a\"b"), Cell::Null, Cell::Null]));
        assert_eq!(rows[1], (4, vec![text("2"), Cell::Null, text("{\"x\": [1, null]}"), Cell::Bool(true)]));
    }

    #[test]
    fn what_is_not_an_object_of_known_columns_is_rejected_with_its_line() {
        let error = prepared("{\"id\":1}\n[1,2]\n").unwrap_err();
        assert_eq!(error, LoadError::rejected(2, None, "the line is an array, not a JSON object"));
        let error = prepared("{\"id\":1}\n{\"id\":2}\n{\"id\": 3,\n").unwrap_err();
        let LoadError::Rejected { line: 3, column: None, reason } = &error else { panic!("{error:?}") };
        assert!(reason.starts_with("invalid JSON at character"), "{reason}");
        let error = prepared("{\"id\":1,\"nope\":2}\n").unwrap_err();
        assert_eq!(error, LoadError::rejected(1, Some("nope"), "column \"nope\" does not exist in table \"t\""));
        let error = prepared("{\"id\":1,\"ID\":2}\n").unwrap_err();
        assert_eq!(error, LoadError::rejected(1, Some("id"), "two keys of the object name column \"id\""));
    }
}

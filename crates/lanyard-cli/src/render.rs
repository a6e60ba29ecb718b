//! Result sets as text: aligned tables (comfy-table), JSON Lines and CSV (the csv crate).

use comfy_table::{ContentArrangement, Table, presets};
use lanyard_client::{Cell, StatementResult};
use serde_json::{Map, Value};

/// A Markdown-style ASCII table with a header row, as wide as its content (no wrapping: output must not depend on the
/// terminal). NULL prints as an empty cell.
pub(crate) fn table(result: &StatementResult) -> String {
    let mut table = Table::new();
    table.load_preset(presets::ASCII_MARKDOWN).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(&result.columns);
    for row in &result.rows {
        table.add_row(row.iter().map(|cell| one_line(&cell.to_string())));
    }
    format!("{table}\n")
}

/// Newlines and tabs inside a cell would break the table's layout: shown as `\n` and `\t`.
fn one_line(text: &str) -> String {
    text.replace('\n', "\\n").replace('\t', "\\t")
}

/// One JSON object: `statement`, `outcome`, `message`, and for statements with rows `columns` and `rows` (each
/// row an object keyed by column, in column order).
pub(crate) fn json(result: &StatementResult) -> String {
    let mut object = Map::new();
    object.insert("statement".into(), Value::String(result.statement.clone()));
    object.insert("outcome".into(), serde_json::to_value(result.outcome).unwrap_or(Value::Null));
    object.insert("message".into(), Value::String(result.message.clone()));
    if result.has_rows() {
        object.insert("columns".into(), result.columns.iter().cloned().map(Value::String).collect());
        let rows = result
            .rows
            .iter()
            .map(|row| {
                let fields: Map<String, Value> = result
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(column, cell)| (column.clone(), serde_json::to_value(cell).unwrap_or(Value::Null)))
                    .collect();
                Value::Object(fields)
            })
            .collect();
        object.insert("rows".into(), Value::Array(rows));
    }
    Value::Object(object).to_string()
}

/// The header row and the rows (RFC 4180 quoting; NULL is an empty field).
pub(crate) fn csv(result: &StatementResult) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(&result.columns);
    for row in &result.rows {
        let _ = writer.write_record(row.iter().map(|cell| match cell {
            Cell::Null => String::new(),
            other => other.to_string(),
        }));
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

//! Result sets as text: aligned tables (comfy-table), the MySQL client's vertical form (`\G`), JSON Lines and CSV
//! (the csv crate).

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

/// A later page of a long result: [`table`]'s rows without its header (the first page printed it).
pub(crate) fn table_rows(result: &StatementResult) -> String {
    let text = table(result);
    // The header line and the line under it.
    text.splitn(3, '\n').nth(2).unwrap_or_default().to_owned()
}

/// Newlines and tabs inside a cell would break the table's layout: shown as `\n` and `\t`.
fn one_line(text: &str) -> String {
    text.replace('\n', "\\n").replace('\t', "\\t")
}

/// The MySQL client's vertical form, for a statement ended with `\G`: per row a header
/// `*************************** N. row ***************************`, then one line per column, the column name
/// right-aligned to the longest one, `: `, and the value as it is (a multi-line value keeps its line breaks and
/// indents; NULL prints as `NULL`, as the MySQL client prints it).
pub(crate) fn vertical(result: &StatementResult) -> String {
    vertical_from(result, 0)
}

/// [`vertical`] for a page of a longer result, its rows numbered after the `offset` rows before it.
pub(crate) fn vertical_from(result: &StatementResult, offset: usize) -> String {
    const STARS: &str = "***************************";
    let width = result.columns.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (index, row) in result.rows.iter().enumerate() {
        out.push_str(&format!("{STARS} {}. row {STARS}\n", offset + index + 1));
        for (column, cell) in result.columns.iter().zip(row) {
            let value = match cell {
                Cell::Null => "NULL".to_owned(),
                other => other.to_string(),
            };
            out.push_str(&format!("{column:>width$}: {value}\n"));
        }
    }
    out
}

/// One JSON object: `statement`, `outcome`, `message`, for statements with rows `columns` and `rows` (each row an
/// object keyed by column, in column order), and `warnings` (`[{code, message}]`) when the server gave any.
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
    if !result.warnings.is_empty() {
        object.insert("warnings".into(), serde_json::to_value(&result.warnings).unwrap_or(Value::Null));
    }
    Value::Object(object).to_string()
}

/// The header row and the rows (RFC 4180 quoting; NULL is an empty field).
pub(crate) fn csv(result: &StatementResult) -> String {
    csv_with(result, true)
}

/// A later page of a long result: [`csv`]'s rows without the header row.
pub(crate) fn csv_rows(result: &StatementResult) -> String {
    csv_with(result, false)
}

fn csv_with(result: &StatementResult, header: bool) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    if header {
        let _ = writer.write_record(&result.columns);
    }
    for row in &result.rows {
        let _ = writer.write_record(row.iter().map(|cell| match cell {
            Cell::Null => String::new(),
            other => other.to_string(),
        }));
    }
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use lanyard_client::Outcome;

    use super::*;

    fn result(columns: &[&str], rows: Vec<Vec<Cell>>) -> StatementResult {
        StatementResult::message(
            "SHOW CREATE LINK analytics_link".to_owned(),
            Outcome::Ok,
            "link \"default.analytics_link\"",
        )
        .with_rows(columns, rows)
    }

    /// The seed's SHOW CREATE LINK output, byte for byte as the MySQL client prints it with `\G`.
    #[test]
    fn vertical_output_is_the_mysql_clients() {
        let create = "CREATE LINK `analytics_link` AS S3\n    CONFIG \"{\\\"disable_gunzip\\\":false,\\\"region\\\":\\\"us-east-1\\\"}\"\n    CREDENTIALS <CREDENTIALS REDACTED>";
        let shown = vertical(&result(
            &["Link Name", "Create Link"],
            vec![vec![Cell::from("analytics_link"), Cell::from(create)]],
        ));
        assert_eq!(
            shown,
            r#"*************************** 1. row ***************************
  Link Name: analytics_link
Create Link: CREATE LINK `analytics_link` AS S3
    CONFIG "{\"disable_gunzip\":false,\"region\":\"us-east-1\"}"
    CREDENTIALS <CREDENTIALS REDACTED>
"#
        );
    }

    #[test]
    fn vertical_output_numbers_every_row_and_prints_null_and_typed_cells() {
        let shown = vertical(&result(
            &["Link", "Type", "Description", "Config"],
            vec![
                vec![Cell::from("a"), Cell::from("S3"), Cell::Null, Cell::from("{}")],
                vec![Cell::from("b"), Cell::from("KAFKA"), Cell::from("x"), Cell::Int(3)],
            ],
        ));
        let stars = "*".repeat(27);
        assert_eq!(
            shown,
            format!(
                "{stars} 1. row {stars}\n       Link: a\n       Type: S3\nDescription: NULL\n     Config: {{}}\n\
                 {stars} 2. row {stars}\n       Link: b\n       Type: KAFKA\nDescription: x\n     Config: 3\n"
            )
        );
        // No rows, no output (the status line says how many there were).
        assert_eq!(vertical(&result(&["Link"], Vec::new())), "");
    }
}

//! The OpenAPI schemas of the constrained strings and maps of the requests, built from the limits `lanyard-core`
//! enforces ([`MAX_NAME_CHARS`], [`MAX_OPTIONS`], [`MAX_OPTION_VALUE_BYTES`]), so the description refuses what the
//! server refuses. Fields name them with `#[schema(schema_with = …)]`.

use std::borrow::Cow;

use lanyard_core::{MAX_NAME_CHARS, MAX_OPTION_VALUE_BYTES, MAX_OPTIONS};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AdditionalProperties, Object, ObjectBuilder, Schema, Type};

/// The control characters (Unicode category Cc, what `char::is_control` finds) as a regex class body.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";

/// The code points [`lanyard_core::invisible_character`] refuses (bidirectional controls and the other
/// default-ignorable code points), as inclusive ranges. Written out because computing them means asking about all
/// 1.1 million code points, which took 40 ms of every server start; the test `the_invisible_ranges_are_the_rule`
/// computes them from the rule and compares, so the table cannot drift from it.
const INVISIBLE: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x2069),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0020, 0xE007F),
    (0xE0100, 0xE01EF),
];

/// [`INVISIBLE`] as a regex class body. Characters of the Basic Multilingual Plane are written `\uXXXX`; the few
/// outside it (tag characters, variation selectors 17–256) are written as themselves, which every regex dialect reads
/// as one character.
fn invisible() -> &'static str {
    static CLASS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CLASS.get_or_init(|| {
        let one = |c: u32| match char::from_u32(c) {
            Some(c) if u32::from(c) > 0xffff => c.to_string(),
            _ => format!("\\u{c:04x}"),
        };
        INVISIBLE
            .iter()
            .map(|&(start, end)| if start == end { one(start) } else { format!("{}-{}", one(start), one(end)) })
            .collect()
    })
}

/// The whitespace `char::is_whitespace` finds besides the control characters (which [`CONTROL`] already holds).
const SPACE: &str = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// The pattern of a name ([`lanyard_core::Name`]): no control character, no bidirectional control, and no
/// whitespace at either end.
pub fn name_pattern() -> String {
    let hidden = invisible();
    format!("^[^{CONTROL}{hidden}{SPACE}]([^{CONTROL}{hidden}]*[^{CONTROL}{hidden}{SPACE}])?$")
}

/// The pattern of an option key ([`lanyard_core::OptionKey`]): no whitespace and no control character anywhere.
pub fn option_key_pattern() -> String {
    format!("^[^{CONTROL}{SPACE}{}]+$", invisible())
}

/// A new name: 1 to [`MAX_NAME_CHARS`] characters matching [`name_pattern`].
pub fn name() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!(
            "A name: 1 to {MAX_NAME_CHARS} characters, no control or invisible characters (bidirectional \
             controls, zero-width and other default-ignorable code points), no whitespace at either end."
        )))
        .min_length(Some(1))
        .max_length(Some(MAX_NAME_CHARS))
        .pattern(Some(name_pattern()))
        .build()
}

/// An options object: at most [`MAX_OPTIONS`] keys ([`option_key_pattern`], 1 to 128 characters), each value a string
/// of at most [`MAX_OPTION_VALUE_BYTES`] (bytes on the server; the schema's `maxLength` counts characters, which are
/// never more than the bytes).
pub fn options() -> Object {
    let key = option_key();
    let value = ObjectBuilder::new().schema_type(Type::String).max_length(Some(MAX_OPTION_VALUE_BYTES)).build();
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(format!(
            "Options, string values in written order: at most {MAX_OPTIONS} keys, values at most \
             {MAX_OPTION_VALUE_BYTES} bytes."
        )))
        .additional_properties(Some(AdditionalProperties::RefOr(Schema::Object(value).into())))
        .max_properties(Some(MAX_OPTIONS))
        .build();
    object.property_names = Some(Box::new(Schema::Object(key)));
    object
}

/// A string of a closed vocabulary: one of `spellings` (the server also takes them in any case).
fn vocabulary(spellings: &[&'static str]) -> Object {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(spellings.iter().copied())).build()
}

/// An audit record's object kind, as `GET /audit?kind=` takes it (the server also reads `_` for the space).
pub fn object_kind() -> Object {
    vocabulary(&[
        "connection",
        "vault entry",
        "credential storage",
        "link",
        "pipeline",
        "database",
        "principal",
        "token",
    ])
}

/// A point in time as `GET /audit?from=` takes it: an RFC 3339 date-time (`2027-01-31T12:00:00Z`) or a date
/// (`2027-01-31`, midnight UTC). The server also reads other ISO 8601 spellings.
pub fn instant() -> Schema {
    let of = |format: utoipa::openapi::KnownFormat| {
        Schema::Object(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(format)))
                .build(),
        )
    };
    Schema::OneOf(
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(of(utoipa::openapi::KnownFormat::DateTime))
            .item(of(utoipa::openapi::KnownFormat::Date))
            .build(),
    )
}

/// A connection type ([`lanyard_core::ConnectionType`]).
pub fn connection_type() -> Object {
    vocabulary(lanyard_core::ConnectionType::spellings())
}

/// A link type ([`lanyard_core::LinkType`]).
pub fn link_type() -> Object {
    vocabulary(lanyard_core::LinkType::spellings())
}

/// A vault entry type ([`lanyard_core::EntryType`]).
pub fn entry_type() -> Object {
    vocabulary(lanyard_core::EntryType::spellings())
}

/// A test step's or last test's status ([`lanyard_core::TestStatus`]).
pub fn test_status() -> Object {
    vocabulary(lanyard_core::TestStatus::spellings())
}

/// A pipeline's state ([`lanyard_core::PipelineState`]).
pub fn pipeline_state() -> Object {
    vocabulary(lanyard_core::PipelineState::spellings())
}

/// A pipeline file's state ([`lanyard_core::FileState`]).
pub fn file_state() -> Object {
    vocabulary(lanyard_core::FileState::spellings())
}

/// An audit record's outcome ([`lanyard_core::AuditOutcome`]).
pub fn audit_outcome() -> Object {
    vocabulary(lanyard_core::AuditOutcome::spellings())
}

/// An audit record's action ([`lanyard_core::AuditAction`]).
pub fn audit_action() -> Object {
    vocabulary(lanyard_core::AuditAction::spellings())
}

/// A component backed by a schema function, for `#[schema(value_type = …)]` (which enum variants take where fields
/// could also take `schema_with`): an uninhabited marker type named after the component.
macro_rules! component {
    ($(#[$doc:meta])* $name:ident => $schema:expr) => {
        $(#[$doc])*
        pub enum $name {}

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                RefOr::T(Schema::from($schema))
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

component!(
    /// The `Name` component: [`name`].
    Name => name()
);

component!(
    /// The `Options` component: [`options`].
    Options => options()
);

component!(
    /// MAX_CONNECTIONS: 1 to 100000, or `null` (the limits `lanyard-control` checks).
    MaxConnections => bounded_or_null(1, 100_000)
);

component!(
    /// TIMEOUT in seconds: 0 to 86400, or `null` (the limits `lanyard-control` checks).
    TimeoutSeconds => bounded_or_null(0, 86_400)
);

component!(
    /// A version of an object: 1 or more.
    Version => ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::Type(Type::Integer))
        .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
        .minimum(Some(1))
        .build()
);

component!(
    /// A link's CREDENTIALS: a JSON object whose keys are 1 to 128 characters without control characters.
    Credentials => credentials()
);

component!(
    /// How a pipeline's files become rows ([`lanyard_core::LoadFormat`]): `{"format": "JSON"}`, or
    /// `{"format": "CSV", …}` with the CSV options (each optional).
    LoadFormat => load_format()
);

component!(
    /// A link's CONFIG: a JSON object whose keys are [`ConfigKey`]s.
    Config => credentials()
);

component!(
    /// A key of a link's CONFIG or CREDENTIALS: 1 to 128 characters without control characters.
    ConfigKey => config_key()
);

component!(
    /// An option key ([`lanyard_core::OptionKey`]): 1 to 128 characters matching [`option_key_pattern`].
    OptionKey => option_key()
);

/// [`ConfigKey`].
fn config_key() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(lanyard_core::MAX_OPTION_KEY_CHARS))
        .pattern(Some(format!("^[^{CONTROL}]+$")))
        .build()
}

/// [`OptionKey`].
fn option_key() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(lanyard_core::MAX_OPTION_KEY_CHARS))
        .pattern(Some(option_key_pattern()))
        .build()
}

/// [`Credentials`] and [`Config`]: an object whose keys are [`ConfigKey`]s.
fn credentials() -> Object {
    let mut object = ObjectBuilder::new().schema_type(Type::Object).build();
    object.property_names = Some(Box::new(Schema::Object(config_key())));
    object
}

/// [`LoadFormat`].
fn load_format() -> Schema {
    use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder};
    let tag = |value: &'static str| ObjectBuilder::new().schema_type(Type::String).enum_values(Some([value])).build();
    // A single printable ASCII character (the server also wants the three distinct from each other).
    let character = || ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[!-~ \\t]$")).build();
    let nullable_character = ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some("^[!-~ \\t]$"))
        .build();
    let column = ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).build();
    let columns = ArrayBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::Array, Type::Null]))
        .items(column)
        .min_items(Some(1))
        .unique_items(true)
        .build();
    let csv = ObjectBuilder::new()
        .property("format", tag("CSV"))
        .required("format")
        .property("delimiter", character())
        .property("enclosed_by", character())
        .property("escaped_by", nullable_character)
        .property(
            "ignore_lines",
            ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(0)).maximum(Some(u32::MAX)),
        )
        .property("columns", columns)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .build();
    let json = ObjectBuilder::new()
        .property("format", tag("JSON"))
        .required("format")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        .build();
    Schema::OneOf(OneOfBuilder::new().item(csv).item(json).build())
}

/// An integer in `min..=max`, or `null`.
fn bounded_or_null(min: i64, max: i64) -> Object {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::Integer, Type::Null]))
        .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64)))
        .minimum(Some(min))
        .maximum(Some(max))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invisible_ranges_are_the_rule() {
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            if lanyard_core::invisible_character(c).is_none() {
                continue;
            }
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 == u32::from(c) => *end = u32::from(c),
                _ => ranges.push((u32::from(c), u32::from(c))),
            }
        }
        assert_eq!(ranges, INVISIBLE, "lanyard_core::invisible_character changed: write its ranges here");
        assert!(invisible().starts_with("\\u00ad\\u034f"), "{}", invisible());
    }
}

//! The fields of a JSON body, each read into its Rust type with Pydantic's lax conversions
//! and error kinds, every field's error collected.
//!
//! The error kind comes from what the target type asks of the deserializer, never from a
//! message: a type that calls `deserialize_bool` gets Pydantic's lax boolean and `bool_type`
//! or `bool_parsing`, one that calls `deserialize_i16` a lax integer in `i16`'s range and
//! `int_parsing` or `less_than_equal`, and so on. [`Lax`] is that deserializer over a borrowed
//! [`Value`], [`Mismatch`] its error; [`Fields`] reads a body's fields with it, and the
//! derive's `FromJson` impls are made of its calls.

use std::any::TypeId;
use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::{Map, Value, json};

use super::{ValidationError, ValidationErrors, loc, missing, object};
use crate::email;

/// The fields of a JSON object body, read one by one, every error collected in the order of
/// the calls (Pydantic's: the model's field order).
#[derive(Debug)]
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    /// A model body reports a missing field with the whole body as `input`; an embedded
    /// body (`Body(embed=True)`) with `null`.
    model: bool,
    errors: ValidationErrors,
}

impl<'a> Fields<'a> {
    /// The fields of a model body; a body that is not an object is Pydantic's
    /// `model_attributes_type` error.
    pub fn model(body: &'a Value) -> Result<Self, ValidationErrors> {
        Ok(Self {
            object: object(body)?,
            model: true,
            errors: ValidationErrors::new(),
        })
    }

    /// The fields of an embedded body.
    pub(crate) fn embedded(object: &'a Map<String, Value>) -> Self {
        Self {
            object,
            model: false,
            errors: ValidationErrors::new(),
        }
    }

    /// A field that must be present (`null` is a value, which only `Option` types take).
    pub fn required<T: DeserializeOwned + 'static>(&mut self, name: &str) -> Option<T> {
        let value = self.present(name)?;
        self.convert(name, value)
    }

    /// A field that may be absent (`None`). For a nullable type `Option<T>`, `null` is
    /// `Some(None)`: absent and `null` stay apart.
    pub fn optional<T: DeserializeOwned + 'static>(&mut self, name: &str) -> Option<T> {
        let value = self.object.get(name)?;
        self.convert(name, value)
    }

    /// A required email address, validated and normalised (domain lower-cased).
    pub fn required_email(&mut self, name: &str) -> Option<String> {
        let value = self.present(name)?;
        self.email(name, value)
    }

    /// An email address that may be absent, but not `null`.
    pub fn optional_email(&mut self, name: &str) -> Option<String> {
        let value = self.object.get(name)?;
        self.email(name, value)
    }

    /// The body `build` makes, or every error collected. `build` runs only when no field
    /// failed, so every required value it unwraps (with `?`) is there.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ValidationErrors> {
        self.errors.finish()?;
        build().ok_or_else(ValidationErrors::new)
    }

    fn present(&mut self, name: &str) -> Option<&'a Value> {
        let value = self.object.get(name);
        if value.is_none() {
            let input = if self.model {
                Value::Object(self.object.clone())
            } else {
                Value::Null
            };
            self.errors.push(missing(name, input));
        }
        value
    }

    fn convert<T: DeserializeOwned + 'static>(&mut self, name: &str, value: &Value) -> Option<T> {
        let read = if has_nul(value) {
            // No database stores NUL in text (PostgreSQL refuses it): a 422 here, not a
            // failure deep in a query.
            Err(de::Error::custom("text may not contain NUL characters"))
        } else {
            read(value)
        };
        read.map_err(|e: Mismatch| {
            let error = e.or_input(value).into_error(loc(&["body", name]));
            self.errors.push(error);
        })
        .ok()
    }

    fn email(&mut self, name: &str, value: &Value) -> Option<String> {
        let text: String = self.convert(name, value)?;
        email::normalize(&text)
            .map_err(|reason| {
                self.errors.push(ValidationError {
                    kind: "value_error",
                    loc: loc(&["body", name]),
                    msg: format!("value is not a valid email address: {reason}"),
                    input: value.clone(),
                    ctx: Some(json!({ "reason": reason.to_string() })),
                });
            })
            .ok()
    }
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Reads `value` as a `T`, or says why it cannot be one.
fn read<T: DeserializeOwned + 'static>(value: &Value) -> Result<T, Mismatch> {
    // A UUID asks for a plain string; told apart by its type, it gets Pydantic's UUID errors.
    let target = TypeId::of::<T>();
    let uuid = target == TypeId::of::<uuid::Uuid>() || target == TypeId::of::<Option<uuid::Uuid>>();
    T::deserialize(Lax { value, uuid })
}

/// Why a value does not fit its type, in Pydantic's terms (boxed: it travels in every
/// `Result` of the deserializer).
#[derive(Debug)]
struct Mismatch(Box<Details>);

#[derive(Debug)]
struct Details {
    kind: &'static str,
    msg: String,
    ctx: Option<Value>,
    /// The offending value, set by the innermost reader that holds it.
    input: Option<Value>,
    /// Where below the field, innermost first (list indexes, object keys).
    path: Vec<Value>,
}

impl Mismatch {
    /// The error of `kind`, with Pydantic's fixed message for it.
    fn of(kind: &'static str) -> Self {
        let msg = match kind {
            "string_type" => "Input should be a valid string",
            "bool_type" => "Input should be a valid boolean",
            "bool_parsing" => "Input should be a valid boolean, unable to interpret input",
            "int_type" => "Input should be a valid integer",
            "int_parsing" => {
                "Input should be a valid integer, unable to parse string as an integer"
            }
            "int_from_float" => {
                "Input should be a valid integer, got a number with a fractional part"
            }
            "int_parsing_size" => {
                "Unable to parse input string as an integer, exceeded maximum size"
            }
            "float_type" => "Input should be a valid number",
            "float_parsing" => "Input should be a valid number, unable to parse string as a number",
            "finite_number" => "Input should be a finite number",
            "uuid_type" => "UUID input should be a string, bytes or UUID object",
            "bytes_type" => "Input should be a valid bytes",
            "list_type" => "Input should be a valid list",
            "dict_type" => "Input should be a valid dictionary",
            "none_required" => "Input should be None",
            "missing" => "Field required",
            "extra_forbidden" => "Extra inputs are not permitted",
            _ => "Input is not valid",
        };
        Self::new(kind, msg, None)
    }

    fn new(kind: &'static str, msg: impl Into<String>, ctx: Option<Value>) -> Self {
        Self(Box::new(Details {
            kind,
            msg: msg.into(),
            ctx,
            input: None,
            path: Vec::new(),
        }))
    }

    fn or_input(mut self, value: &Value) -> Self {
        self.0.input.get_or_insert_with(|| value.clone());
        self
    }

    fn within(mut self, step: impl Into<Value>) -> Self {
        self.0.path.push(step.into());
        self
    }

    /// The item of the 422 answer, located at `loc` (e.g. `["body", "age"]`) and below.
    fn into_error(self, mut loc: Vec<Value>) -> ValidationError {
        let details = *self.0;
        loc.extend(details.path.into_iter().rev());
        ValidationError {
            kind: details.kind,
            loc,
            msg: details.msg,
            input: details.input.unwrap_or(Value::Null),
            ctx: details.ctx,
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.kind, self.0.msg)
    }
}

impl std::error::Error for Mismatch {}

impl de::Error for Mismatch {
    /// A type's own check refused the value (its visitor failed): Pydantic's `value_error`,
    /// the one kind whose message comes from elsewhere.
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::new(
            "value_error",
            format!("Value error, {msg}"),
            Some(json!({"error": {}})),
        )
    }

    fn missing_field(field: &'static str) -> Self {
        Self::of("missing").within(field)
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        Self::of("extra_forbidden").within(field)
    }
}

/// Pydantic's lax integer: integers, floats without a fractional part, booleans, and strings
/// of ASCII digits (surrounding whitespace, a sign, `_` between digits and a `.0` tail
/// allowed). A string beyond `i128` saturates, and then fails the range check.
fn lax_int(value: &Value) -> Result<i128, Mismatch> {
    match value {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Ok(i.into()),
            (_, Some(u), _) => Ok(u.into()),
            (_, _, Some(f)) if f.fract() != 0.0 => Err(Mismatch::of("int_from_float")),
            (_, _, Some(f)) if f.abs() < i64::MAX as f64 => Ok(f as i128),
            _ => Err(Mismatch::of("int_parsing_size")),
        },
        Value::Bool(b) => Ok((*b).into()),
        Value::String(s) => parse_int(s).ok_or_else(|| Mismatch::of("int_parsing")),
        _ => Err(Mismatch::of("int_type")),
    }
}

/// Python's rule for `_` in numbers: only between two digits. `None` when misplaced.
fn without_underscores(digits: &str) -> Option<String> {
    let bytes = digits.as_bytes();
    let digit_at = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
    let misplaced = (0..bytes.len())
        .any(|i| bytes[i] == b'_' && !(digit_at(i.checked_sub(1)) && digit_at(Some(i + 1))));
    (!misplaced).then(|| digits.replace('_', ""))
}

fn parse_int(text: &str) -> Option<i128> {
    let mut text = text.trim();
    if let Some((whole, fraction)) = text.split_once('.') {
        if fraction.is_empty() || fraction.bytes().any(|b| b != b'0') {
            return None;
        }
        text = whole;
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits = without_underscores(digits)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let magnitude = digits.parse::<i128>().unwrap_or(i128::MAX);
    Some(if negative { -magnitude } else { magnitude })
}

/// The integer in `min..=max`, or Pydantic's error for `conint(ge=min, le=max)`.
fn in_range(n: i128, min: i128, max: i128) -> Result<i128, Mismatch> {
    // 128-bit bounds fit no JSON integer: they go as text.
    let bound = |n: i128| {
        i64::try_from(n)
            .map(Value::from)
            .or_else(|_| u64::try_from(n).map(Value::from))
            .unwrap_or_else(|_| n.to_string().into())
    };
    if n < min {
        Err(Mismatch::new(
            "greater_than_equal",
            format!("Input should be greater than or equal to {min}"),
            Some(json!({ "ge": bound(min) })),
        ))
    } else if n > max {
        Err(Mismatch::new(
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
            Some(json!({ "le": bound(max) })),
        ))
    } else {
        Ok(n)
    }
}

/// Pydantic's lax float: numbers, booleans and numeric strings (Python's `float()` syntax).
/// Infinity and NaN, which Pydantic accepts and the reference then fails to answer in JSON,
/// are refused with Pydantic's `finite_number` error.
fn lax_float(value: &Value) -> Result<f64, Mismatch> {
    let f = match value {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => without_underscores(s.trim())
            .and_then(|s| s.parse::<f64>().ok())
            .ok_or_else(|| Mismatch::of("float_parsing"))?,
        _ => return Err(Mismatch::of("float_type")),
    };
    if f.is_finite() {
        Ok(f)
    } else {
        Err(Mismatch::of("finite_number"))
    }
}

/// Pydantic's lax boolean: `true`/`false`, the numbers 0 and 1, and the strings `0`, `off`,
/// `f`, `false`, `n`, `no`, `1`, `on`, `t`, `true`, `y`, `yes` in any case.
fn lax_bool(value: &Value) -> Result<bool, Mismatch> {
    match value {
        Value::Bool(b) => Ok(*b),
        // A number with a fractional part is not one Pydantic tries as 0 or 1.
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() && f.fract() != 0.0 => Err(Mismatch::of("bool_type")),
            Some(0.0) => Ok(false),
            Some(1.0) => Ok(true),
            _ => Err(Mismatch::of("bool_parsing")),
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Ok(false),
            "1" | "on" | "t" | "true" | "y" | "yes" => Ok(true),
            _ => Err(Mismatch::of("bool_parsing")),
        },
        _ => Err(Mismatch::of("bool_type")),
    }
}

/// `'a', 'b' or 'c'`, as Pydantic lists the members of an enum.
fn one_of(variants: &[&str]) -> String {
    let quoted: Vec<String> = variants.iter().map(|v| format!("'{v}'")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// A deserializer over a borrowed JSON value with Pydantic's lax conversions. Its errors
/// carry no input: whoever made the `Lax` adds the value it was given.
#[derive(Clone, Copy)]
struct Lax<'v> {
    value: &'v Value,
    /// The target is a `Uuid` (see [`read`]).
    uuid: bool,
}

impl<'v> Lax<'v> {
    fn new(value: &'v Value) -> Self {
        Self { value, uuid: false }
    }
}

/// Generates the integer methods: each reads a lax integer in its type's range.
macro_rules! integers {
    ($($method:ident $visit:ident $ty:ty;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
            let n = in_range(lax_int(self.value)?, <$ty>::MIN.into(), <$ty>::MAX.into())?;
            // In range: the conversion cannot fail.
            visitor.$visit(<$ty>::try_from(n).unwrap_or_default())
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Lax<'_> {
    type Error = Mismatch;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => visitor.visit_u64(u),
                (_, Some(i), _) => visitor.visit_i64(i),
                (_, _, f) => visitor.visit_f64(f.unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => Items::visit(items, visitor),
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        visitor.visit_bool(lax_bool(self.value)?)
    }

    integers! {
        deserialize_i8 visit_i8 i8;
        deserialize_i16 visit_i16 i16;
        deserialize_i32 visit_i32 i32;
        deserialize_i64 visit_i64 i64;
        deserialize_i128 visit_i128 i128;
        deserialize_u8 visit_u8 u8;
        deserialize_u16 visit_u16 u16;
        deserialize_u32 visit_u32 u32;
        deserialize_u64 visit_u64 u64;
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        visitor.visit_u128(in_range(lax_int(self.value)?, 0, i128::MAX)?.unsigned_abs())
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        // Beyond f32's range a value becomes infinite.
        match lax_float(self.value)? as f32 {
            f if f.is_finite() => visitor.visit_f32(f),
            _ => Err(Mismatch::of("finite_number")),
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        visitor.visit_f64(lax_float(self.value)?)
    }

    /// A string of one character (Pydantic's `constr(min_length=1, max_length=1)`).
    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        let Value::String(s) = self.value else {
            return Err(Mismatch::of("string_type"));
        };
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            (None, _) => Err(Mismatch::new(
                "string_too_short",
                "String should have at least 1 character",
                Some(json!({"min_length": 1})),
            )),
            _ => Err(Mismatch::new(
                "string_too_long",
                "String should have at most 1 character",
                Some(json!({"max_length": 1})),
            )),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        match (self.value, self.uuid) {
            (Value::String(s), false) => visitor.visit_str(s),
            (Value::String(s), true) => match uuid::Uuid::parse_str(s) {
                Ok(_) => visitor.visit_str(s),
                // The parser's reason, as Pydantic gives it (both use the uuid crate's).
                Err(reason) => Err(Mismatch::new(
                    "uuid_parsing",
                    format!("Input should be a valid UUID, {reason}"),
                    Some(json!({ "error": reason.to_string() })),
                )),
            },
            (_, false) => Err(Mismatch::of("string_type")),
            (_, true) => Err(Mismatch::of("uuid_type")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        self.deserialize_str(visitor)
    }

    /// Pydantic's `bytes` takes a string (its UTF-8 bytes).
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::String(s) => visitor.visit_bytes(s.as_bytes()),
            _ => Err(Mismatch::of("bytes_type")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            _ => Err(Mismatch::of("none_required")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::Array(items) => Items::visit(items, visitor),
            _ => Err(Mismatch::of("list_type")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
            _ => Err(Mismatch::of("dict_type")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::Object(map) => visitor.visit_map(Entries::new(map)),
            _ => Err(Mismatch::new(
                "model_type",
                format!("Input should be a valid dictionary or instance of {name}"),
                Some(json!({ "class_name": name })),
            )),
        }
    }

    /// An enum's wire names are its variants: one of them, or Pydantic's `enum` error. An
    /// object of one key is a variant with data, as serde writes it.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::String(s) if variants.contains(&s.as_str()) => {
                visitor.visit_enum(s.as_str().into_deserializer())
            }
            Value::Object(map) if map.len() == 1 => visitor.visit_enum(Variant(map)),
            _ => {
                let expected = one_of(variants);
                Err(Mismatch::new(
                    "enum",
                    format!("Input should be {expected}"),
                    Some(json!({ "expected": expected })),
                ))
            }
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        visitor.visit_unit()
    }
}

/// The elements of a JSON array, each read with [`Lax`] and located by its index.
struct Items<'v> {
    items: std::slice::Iter<'v, Value>,
    index: usize,
}

impl<'v> Items<'v> {
    /// Visits the array; a fixed-size target (a tuple) that leaves elements unread fails.
    fn visit<'de, V: Visitor<'de>>(items: &'v [Value], visitor: V) -> Result<V::Value, Mismatch> {
        let mut access = Self {
            items: items.iter(),
            index: 0,
        };
        let value = visitor.visit_seq(&mut access)?;
        match access.items.len() {
            0 => Ok(value),
            extra => Err(de::Error::custom(format_args!(
                "{extra} more element(s) than expected"
            ))),
        }
    }
}

impl<'de> de::SeqAccess<'de> for Items<'_> {
    type Error = Mismatch;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Mismatch> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        self.index += 1;
        let index = self.index - 1;
        seed.deserialize(Lax::new(item))
            .map(Some)
            .map_err(|e| e.or_input(item).within(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of a JSON object, each value read with [`Lax`] and located by its key.
struct Entries<'v> {
    entries: serde_json::map::Iter<'v>,
    pending: Option<(&'v str, &'v Value)>,
}

impl<'v> Entries<'v> {
    fn new(map: &'v Map<String, Value>) -> Self {
        Self {
            entries: map.iter(),
            pending: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = Mismatch;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Mismatch> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((key, value));
        // A key the type refuses (an unknown field) is located at that key, with its value.
        seed.deserialize(StrDeserializer::new(key))
            .map(Some)
            .map_err(|e: Mismatch| e.or_input(value))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Mismatch> {
        let Some((key, value)) = self.pending.take() else {
            return Err(de::Error::custom("a value was asked for before its key"));
        };
        seed.deserialize(Lax::new(value))
            .map_err(|e| e.or_input(value).within(key))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A variant with data, `{"Name": data}`.
struct Variant<'v>(&'v Map<String, Value>);

impl<'de, 'v> de::EnumAccess<'de> for Variant<'v> {
    type Error = Mismatch;
    type Variant = Lax<'v>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Lax<'v>), Mismatch> {
        let Some((name, data)) = self.0.iter().next() else {
            return Err(de::Error::custom("an enum variant needs a name"));
        };
        let variant = seed.deserialize(StrDeserializer::new(name))?;
        Ok((variant, Lax::new(data)))
    }
}

impl<'de> de::VariantAccess<'de> for Lax<'_> {
    type Error = Mismatch;

    fn unit_variant(self) -> Result<(), Mismatch> {
        de::Deserialize::deserialize(self).map_err(|e: Mismatch| e.or_input(self.value))
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Mismatch> {
        seed.deserialize(self).map_err(|e| e.or_input(self.value))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Mismatch> {
        de::Deserializer::deserialize_tuple(self, len, visitor).map_err(|e| e.or_input(self.value))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
            .map_err(|e| e.or_input(self.value))
    }
}

#[cfg(test)]
mod tests {
    //! One test per Pydantic error kind, each expectation taken from Pydantic 2.14 (FastAPI
    //! 0.165, fastapi-users 15.0.5) answering the same input for a field of the same type.

    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::Fields;

    /// The 422 items of reading `{"f": input}` as a required `T`, or the value read.
    fn read<T: serde::de::DeserializeOwned + 'static>(input: Value) -> Result<T, Value> {
        let body = json!({ "f": input });
        let mut fields = Fields::model(&body).unwrap();
        let value = fields.required::<T>("f");
        fields.finish(|| value).map_err(|e| e.into_value())
    }

    /// The single 422 item of reading `{"f": input}` as a `T`.
    fn error<T: serde::de::DeserializeOwned + std::fmt::Debug + 'static>(input: Value) -> Value {
        let items = read::<T>(input.clone()).expect_err(&format!("{input} is refused"));
        assert_eq!(items.as_array().map(Vec::len), Some(1), "{items}");
        items[0].clone()
    }

    fn item(kind: &str, msg: &str, input: Value) -> Value {
        json!({"type": kind, "loc": ["body", "f"], "msg": msg, "input": input})
    }

    #[test]
    fn string_type() {
        for input in [
            json!(5),
            json!(true),
            json!(1.5),
            json!([]),
            json!({}),
            json!(null),
        ] {
            assert_eq!(
                error::<String>(input.clone()),
                item("string_type", "Input should be a valid string", input)
            );
        }
        assert_eq!(read::<String>(json!("ok")), Ok("ok".to_owned()));
    }

    #[test]
    fn bool_type_and_bool_parsing() {
        for (input, expected) in [
            (json!(true), true),
            (json!("yes"), true),
            (json!("YES"), true),
            (json!("True"), true),
            (json!("off"), false),
            (json!(1), true),
            (json!(0), false),
            (json!(1.0), true),
            (json!(-0.0), false),
        ] {
            assert_eq!(read::<bool>(input.clone()), Ok(expected), "{input}");
        }
        let parsing = "Input should be a valid boolean, unable to interpret input";
        for input in [
            json!(" yes "),
            json!("maybe"),
            json!(""),
            json!("1.0"),
            json!(2),
            json!(-1),
            json!(2.0),
        ] {
            assert_eq!(
                error::<bool>(input.clone()),
                item("bool_parsing", parsing, input)
            );
        }
        for input in [json!(1.5), json!([]), json!({}), json!(null)] {
            assert_eq!(
                error::<bool>(input.clone()),
                item("bool_type", "Input should be a valid boolean", input)
            );
        }
    }

    #[test]
    fn int_type_int_parsing_and_int_from_float() {
        for (input, expected) in [
            (json!(5), 5),
            (json!("5"), 5),
            (json!(" -5 "), -5),
            (json!("\t5\n"), 5),
            (json!("+5"), 5),
            (json!("05"), 5),
            (json!("5.00"), 5),
            (json!("1_000"), 1000),
            (json!(5.0), 5),
            (json!(1.0e2), 100),
            (json!(true), 1),
            (json!(false), 0),
        ] {
            assert_eq!(read::<i64>(input.clone()), Ok(expected), "{input}");
        }
        let parsing = "Input should be a valid integer, unable to parse string as an integer";
        for input in [
            "5.", "5.01", "5.5", "1e3", "0x10", "1__0", "_1", "1_", "- 5", "", "  ", "abc",
            "\u{665}",
        ] {
            assert_eq!(
                error::<i64>(json!(input)),
                item("int_parsing", parsing, json!(input))
            );
        }
        for input in [json!([]), json!({}), json!(null)] {
            assert_eq!(
                error::<i64>(input.clone()),
                item("int_type", "Input should be a valid integer", input)
            );
        }
        assert_eq!(
            error::<i64>(json!(5.5)),
            item(
                "int_from_float",
                "Input should be a valid integer, got a number with a fractional part",
                json!(5.5)
            )
        );
        assert_eq!(
            error::<i64>(json!(1e23)),
            item(
                "int_parsing_size",
                "Unable to parse input string as an integer, exceeded maximum size",
                json!(1e23)
            )
        );
    }

    /// A Rust integer is Pydantic's `int` bounded to the type's range.
    #[test]
    fn less_than_equal_and_greater_than_equal() {
        let mut above = item(
            "less_than_equal",
            "Input should be less than or equal to 32767",
            json!(40000),
        );
        above["ctx"] = json!({"le": 32767});
        assert_eq!(error::<i16>(json!(40000)), above);
        above["input"] = json!("40000");
        assert_eq!(
            error::<i16>(json!("40000")),
            above,
            "a string is bounded alike"
        );
        let mut below = item(
            "greater_than_equal",
            "Input should be greater than or equal to -32768",
            json!(-40000),
        );
        below["ctx"] = json!({"ge": -32768});
        assert_eq!(error::<i16>(json!(-40000)), below);
        assert_eq!(error::<u8>(json!(-1))["ctx"], json!({"ge": 0}));
        assert_eq!(
            error::<i64>(json!(9_223_372_036_854_775_808_u64))["ctx"],
            json!({"le": 9_223_372_036_854_775_807_i64})
        );
        assert_eq!(read::<u64>(json!(u64::MAX)), Ok(u64::MAX));
        assert_eq!(read::<i8>(json!("-128")), Ok(-128));
    }

    #[test]
    fn float_type_float_parsing_and_finite_number() {
        for (input, expected) in [
            (json!(1.5), 1.5),
            (json!(5), 5.0),
            (json!("1.5"), 1.5),
            (json!(" 1.5 "), 1.5),
            (json!(".5"), 0.5),
            (json!("5."), 5.0),
            (json!("+1.5"), 1.5),
            (json!("1E3"), 1000.0),
            (json!("1_000.5"), 1000.5),
            (json!(true), 1.0),
        ] {
            assert_eq!(read::<f64>(input.clone()), Ok(expected), "{input}");
        }
        let parsing = "Input should be a valid number, unable to parse string as a number";
        for input in ["abc", "1__0.5", "_1.5", "nan(1)", "0x10", "1.5.5", "", " "] {
            assert_eq!(
                error::<f64>(json!(input)),
                item("float_parsing", parsing, json!(input))
            );
        }
        for input in [json!([]), json!({}), json!(null)] {
            assert_eq!(
                error::<f64>(input.clone()),
                item("float_type", "Input should be a valid number", input)
            );
        }
        // Pydantic reads these, then the reference fails to answer them in JSON: refused here.
        for input in [json!("inf"), json!("-Infinity"), json!("nan"), json!(1e300)] {
            let is_f32 = input == json!(1e300);
            let found = if is_f32 {
                error::<f32>(input.clone())
            } else {
                error::<f64>(input.clone())
            };
            assert_eq!(
                found,
                item("finite_number", "Input should be a finite number", input)
            );
        }
    }

    #[test]
    fn uuid_type_and_uuid_parsing() {
        let id = uuid::Uuid::parse_str("0c6d6b07-3b8d-4c67-9e6f-1d2b3c4d5e6f").unwrap();
        for input in [
            "0c6d6b07-3b8d-4c67-9e6f-1d2b3c4d5e6f",
            "0C6D6B07-3B8D-4C67-9E6F-1D2B3C4D5E6F",
            "0c6d6b073b8d4c679e6f1d2b3c4d5e6f",
            "urn:uuid:0c6d6b07-3b8d-4c67-9e6f-1d2b3c4d5e6f",
            "{0c6d6b07-3b8d-4c67-9e6f-1d2b3c4d5e6f}",
        ] {
            assert_eq!(read::<uuid::Uuid>(json!(input)), Ok(id), "{input}");
        }
        for (input, reason) in [
            ("abc", "invalid length: found 3"),
            ("", "invalid length: found 0"),
            (
                "0c6d6b07-3b8d-4c67-9e6f-1d2b3c4d5e6",
                "invalid group length in group 4: expected 12, found 11",
            ),
            (
                "0c6d6b07-3b8d-4c67-9e6f-1d2b3c4d5e6g",
                "invalid character: found `g` at 35",
            ),
        ] {
            let mut expected = item(
                "uuid_parsing",
                &format!("Input should be a valid UUID, {reason}"),
                json!(input),
            );
            expected["ctx"] = json!({ "error": reason });
            assert_eq!(error::<uuid::Uuid>(json!(input)), expected);
            assert_eq!(
                error::<Option<uuid::Uuid>>(json!(input)),
                expected,
                "nullable alike"
            );
        }
        for input in [json!(5), json!(true), json!([])] {
            assert_eq!(
                error::<uuid::Uuid>(input.clone()),
                item(
                    "uuid_type",
                    "UUID input should be a string, bytes or UUID object",
                    input
                )
            );
        }
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Plan {
        Free,
        Pro,
        Team,
    }

    #[test]
    fn enum_error_lists_the_members() {
        assert_eq!(read::<Plan>(json!("pro")), Ok(Plan::Pro));
        for input in [json!("gold"), json!("FREE"), json!(5), json!(null)] {
            let mut expected = item(
                "enum",
                "Input should be 'free', 'pro' or 'team'",
                input.clone(),
            );
            expected["ctx"] = json!({"expected": "'free', 'pro' or 'team'"});
            assert_eq!(error::<Plan>(input), expected);
        }
        assert_eq!(super::one_of(&["a"]), "'a'");
        assert_eq!(super::one_of(&["a", "b"]), "'a' or 'b'");
    }

    #[derive(Debug, PartialEq, Deserialize)]
    enum Shape {
        Circle { radius: f64 },
    }

    #[test]
    fn a_variant_with_data_is_read_from_an_object() {
        assert_eq!(
            read::<Shape>(json!({"Circle": {"radius": "2"}})),
            Ok(Shape::Circle { radius: 2.0 })
        );
    }

    #[test]
    fn list_type_and_element_errors_at_their_index() {
        assert_eq!(read::<Vec<u8>>(json!([1, "2", true])), Ok(vec![1, 2, 1]));
        for input in [json!("ab"), json!(5), json!({})] {
            assert_eq!(
                error::<Vec<u8>>(input.clone()),
                item("list_type", "Input should be a valid list", input)
            );
        }
        // Serde stops at the first bad element, where Pydantic would list them all.
        let found = error::<Vec<u8>>(json!([1, 300, "x"]));
        assert_eq!(
            found,
            json!({"type": "less_than_equal", "loc": ["body", "f", 1],
                "msg": "Input should be less than or equal to 255", "input": 300, "ctx": {"le": 255}})
        );
        assert_eq!(error::<(u8, u8)>(json!([1, 2, 3]))["type"], "value_error");
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Address {
        city: String,
        zip: Option<u32>,
    }

    #[test]
    fn model_type_dict_type_missing_and_extra_forbidden_inside_an_object() {
        assert_eq!(
            read::<Address>(json!({"city": "Camelot", "zip": "12"})),
            Ok(Address {
                city: "Camelot".into(),
                zip: Some(12)
            })
        );
        let mut expected = item(
            "model_type",
            "Input should be a valid dictionary or instance of Address",
            json!("x"),
        );
        expected["ctx"] = json!({"class_name": "Address"});
        assert_eq!(error::<Address>(json!("x")), expected);
        assert_eq!(
            error::<Address>(json!({"zip": 1})),
            json!({"type": "missing", "loc": ["body", "f", "city"], "msg": "Field required", "input": {"zip": 1}})
        );
        assert_eq!(
            error::<Address>(json!({"city": 5})),
            json!({"type": "string_type", "loc": ["body", "f", "city"], "msg": "Input should be a valid string", "input": 5})
        );
        assert_eq!(
            error::<Address>(json!({"city": "C", "mayor": "Arthur"})),
            json!({"type": "extra_forbidden", "loc": ["body", "f", "mayor"],
                "msg": "Extra inputs are not permitted", "input": "Arthur"})
        );
        assert_eq!(
            error::<std::collections::HashMap<String, i32>>(json!([])),
            item("dict_type", "Input should be a valid dictionary", json!([]))
        );
    }

    #[test]
    fn char_string_too_short_and_string_too_long() {
        assert_eq!(read::<char>(json!("é")), Ok('é'));
        let mut short = item(
            "string_too_short",
            "String should have at least 1 character",
            json!(""),
        );
        short["ctx"] = json!({"min_length": 1});
        assert_eq!(error::<char>(json!("")), short);
        let mut long = item(
            "string_too_long",
            "String should have at most 1 character",
            json!("ab"),
        );
        long["ctx"] = json!({"max_length": 1});
        assert_eq!(error::<char>(json!("ab")), long);
    }

    #[test]
    fn none_required() {
        assert_eq!(read::<()>(json!(null)), Ok(()));
        assert_eq!(
            error::<()>(json!(1)),
            item("none_required", "Input should be None", json!(1))
        );
    }

    /// A type that reads bytes, as `serde_bytes` does: Pydantic's `bytes` takes a string.
    #[derive(Debug, PartialEq)]
    struct Bytes(Vec<u8>);

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visit;
            impl serde::de::Visitor<'_> for Visit {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, bytes: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(bytes.to_vec()))
                }
            }
            deserializer.deserialize_bytes(Visit)
        }
    }

    #[test]
    fn bytes_type() {
        assert_eq!(read::<Bytes>(json!("abc")), Ok(Bytes(b"abc".to_vec())));
        for input in [json!(5), json!([1, 2])] {
            assert_eq!(
                error::<Bytes>(input.clone()),
                item("bytes_type", "Input should be a valid bytes", input)
            );
        }
    }

    /// A type's own refusal (its visitor's error) is Pydantic's `value_error`, with the type's
    /// message: the one kind taken from a message is the catch-all.
    #[test]
    fn value_error_from_the_type_itself() {
        let found = error::<std::net::Ipv4Addr>(json!("not an address"));
        assert_eq!(found["type"], "value_error");
        assert_eq!(found["ctx"], json!({"error": {}}));
        assert!(
            found["msg"].as_str().unwrap().starts_with("Value error, "),
            "{found}"
        );
        assert_eq!(found["input"], "not an address");
        let nul = error::<String>(json!("a\u{0}b"));
        assert_eq!(nul["type"], "value_error");
        assert_eq!(
            nul["msg"],
            "Value error, text may not contain NUL characters"
        );
    }

    #[test]
    fn missing_input_is_the_body_for_a_model_and_null_when_embedded() {
        let body = json!({"other": 1});
        let mut fields = Fields::model(&body).unwrap();
        assert_eq!(fields.required::<String>("f"), None);
        assert_eq!(
            fields.finish(|| Some(())).unwrap_err().into_value(),
            json!([{"type": "missing", "loc": ["body", "f"], "msg": "Field required", "input": {"other": 1}}])
        );
        let mut fields = Fields::embedded(body.as_object().unwrap());
        assert_eq!(fields.required_email("f"), None);
        assert_eq!(
            fields.finish(|| Some(())).unwrap_err().into_value()[0]["input"],
            json!(null)
        );
        assert_eq!(
            Fields::model(&json!([])).unwrap_err().into_value()[0]["type"],
            "model_attributes_type"
        );
    }

    #[test]
    fn optional_tells_absent_from_null_for_nullable_types() {
        let body = json!({"a": null, "b": "x"});
        let mut fields = Fields::model(&body).unwrap();
        assert_eq!(fields.optional::<Option<String>>("absent"), None);
        assert_eq!(fields.optional::<Option<String>>("a"), Some(None));
        assert_eq!(
            fields.optional::<Option<String>>("b"),
            Some(Some("x".into()))
        );
        assert_eq!(fields.optional::<String>("a"), None, "null is no String");
        let errors = fields.finish(|| Some(())).unwrap_err().into_value();
        assert_eq!(errors[0]["type"], "string_type");
    }

    #[test]
    fn every_field_error_is_collected_in_order() {
        let body = json!({"a": "x", "b": "maybe"});
        let mut fields = Fields::model(&body).unwrap();
        let a = fields.required::<i32>("a");
        let b = fields.required::<bool>("b");
        let c = fields.required::<String>("c");
        let errors = fields
            .finish(|| Some((a?, b?, c?)))
            .unwrap_err()
            .into_value();
        let kinds: Vec<&str> = errors
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["int_parsing", "bool_parsing", "missing"]);
    }
}

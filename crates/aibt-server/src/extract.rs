//! Request extractors whose failures are [`ApiError`]s naming the field at fault, instead of
//! axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Multipart, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A page size as a client may send it: any integer from 0 to 2^32 − 1 (the store clamps it
/// to what one page may hold), or `default` when absent; any other is a 400, as documented.
pub fn page_size(limit: Option<i64>, default: u32) -> Result<u32, ApiError> {
    match limit {
        None => Ok(default),
        Some(limit) => u32::try_from(limit).map_err(|_| {
            ApiError::bad_request(
                Some("limit".into()),
                format!("limit: {limit} is outside 0..={}", u32::MAX),
            )
        }),
    }
}

/// The longest a stream may wait between reads of the database, in milliseconds.
pub const MAX_POLL_MS: u64 = 60_000;

/// How often an event stream reads the database: `default` when absent, at least `floor`
/// (a faster poll would only load the database), and a 400 above [`MAX_POLL_MS`].
pub fn poll_interval(
    interval_ms: Option<u64>,
    default: u64,
    floor: u64,
) -> Result<std::time::Duration, ApiError> {
    let millis = interval_ms.unwrap_or(default);
    if millis > MAX_POLL_MS {
        return Err(ApiError::bad_request(
            Some("interval_ms".into()),
            format!("interval_ms: {millis} is above {MAX_POLL_MS}"),
        ));
    }
    Ok(std::time::Duration::from_millis(millis.max(floor)))
}

/// An empty query value is no value: `?cursor=` asks for the first page, as a client with no
/// cursor yet may well send it.
pub fn empty_as_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value: Option<String> = serde::Deserialize::deserialize(deserializer)?;
    Ok(value.filter(|v| !v.is_empty()))
}

/// An uploaded file and the text fields sent beside it.
pub struct Upload {
    /// The file's name as the client gave it, if it did.
    pub name: Option<String>,
    pub bytes: Bytes,
    /// The other fields of a multipart form, trimmed.
    pub fields: std::collections::HashMap<String, String>,
}

/// Reads an upload: the `file` field of a multipart form (its other fields in `fields`), or
/// the whole body as the file. A file over the route's limit is a 413.
pub async fn read_upload<S: Send + Sync>(request: Request, state: &S) -> Result<Upload, ApiError> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_form {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        return Ok(Upload {
            name: None,
            bytes,
            fields: Default::default(),
        });
    }
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| ApiError::bad_request(None, e.body_text()))?;
    let mut file = None;
    let mut fields = std::collections::HashMap::new();
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(None, e.body_text()))?
    {
        let field_name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the file is larger than this server accepts",
                    None,
                )
            } else {
                ApiError::bad_request(Some(field_name.clone()), e.body_text())
            }
        })?;
        if field_name == "file" {
            file = Some((file_name, data));
        } else {
            fields.insert(
                field_name,
                String::from_utf8_lossy(&data).trim().to_string(),
            );
        }
    }
    let (name, bytes) =
        file.ok_or_else(|| ApiError::invalid("file", "file: required".to_string()))?;
    Ok(Upload {
        name,
        bytes,
        fields,
    })
}

/// A JSON request body.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        parse_json(&bytes).map(Body)
    }
}

/// A JSON request body that may be left out (an empty body, or `null`, is `None`).
pub struct OptionalBody<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(None));
        }
        parse_json(&bytes).map(OptionalBody)
    }
}

pub fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than this route accepts",
            None,
        )
    } else {
        ApiError::bad_request(None, rejection.body_text())
    }
}

/// The field serde names in a message such as "missing field `name`".
fn quoted_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

/// serde_json ends its messages with "at line 1 column 42": noise once the field is named.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(" column ") => message[..at].to_string(),
        _ => message.to_string(),
    }
}

/// Reads JSON, naming the field of the first value that does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(None, "the request needs a JSON body"));
    }
    let mut json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(None, format!("the body is not valid JSON: {e}")))?;
    whole_numbers_as_integers(&mut json);
    let value = serde_path_to_error::deserialize(json).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = without_position(&inner.to_string());
        // A missing field is reported at its parent; name the field itself. (An unknown one
        // is already in the path.)
        let named = message
            .starts_with("missing field")
            .then(|| quoted_field(&message))
            .flatten();
        let field = match (named, path.as_str()) {
            (Some(name), "." | "") => name,
            (Some(name), parent) => format!("{parent}.{name}"),
            (None, path) => path.to_string(),
        };
        ApiError::invalid(field.clone(), format!("{field}: {message}"))
    })?;
    Ok(value)
}

/// JSON has one number type: `3.0` is the integer 3 to a client (and to JSON Schema), so an
/// integer field takes it. Whole numbers within the range a float holds exactly become
/// integers before the body is read; fractional ones stay as they are.
fn whole_numbers_as_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| number.is_f64())
                && float.fract() == 0.0
                && float.abs() <= 9_007_199_254_740_992.0
            {
                *number = serde_json::Number::from(float as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(whole_numbers_as_integers),
        _ => {}
    }
}

/// Query parameters.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or_default()).map(Params)
    }
}

/// Reads a query string, naming the parameter of the first value that does not fit.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(url_pairs(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = quoted_field(&message)
            .filter(|_| path == "." || path.is_empty())
            .unwrap_or(path);
        ApiError::bad_request(
            Some(field.clone()),
            format!("query parameter {field}: {message}"),
        )
    })
}

fn url_pairs(input: &[u8]) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        count: u32,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        rate: f64,
    }

    fn field(body: &str) -> (StatusCode, Option<String>) {
        let error = parse_json::<Sample>(body.as_bytes()).expect_err("refused");
        (error.status, error.detail.field)
    }

    #[test]
    fn body_errors_name_the_field() {
        assert_eq!(
            field("{\"count\": 1}"),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("name".into()))
        );
        assert_eq!(
            field("{\"name\": \"a\", \"count\": -1}"),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("count".into()))
        );
        assert_eq!(
            field("{\"name\": \"a\", \"count\": 1, \"inner\": {\"rate\": \"x\"}}"),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("inner.rate".into()))
        );
        assert_eq!(
            field("{\"name\": \"a\", \"count\": 1, \"cuont\": 2}"),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("cuont".into()))
        );
        assert_eq!(field("{\"name\": "), (StatusCode::BAD_REQUEST, None));
        assert_eq!(field(""), (StatusCode::BAD_REQUEST, None));
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Query {
        limit: Option<u32>,
        symbol: String,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let error = parse_query::<Query>("symbol=A&limit=ten").expect_err("refused");
        assert_eq!(error.detail.field.as_deref(), Some("limit"));
        let error = parse_query::<Query>("limit=1").expect_err("refused");
        assert_eq!(error.detail.field.as_deref(), Some("symbol"));
        assert!(parse_query::<Query>("symbol=A%20B").is_ok());
    }
}

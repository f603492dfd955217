//! The login form: `LoginForm::from_request` (axum's `FromRequest`) over arbitrary bodies and
//! content types must never panic, and every rejection must be a 4xx with a JSON `detail`.
//!
//! Input: byte 0 picks the content type and the body's shape, byte 1 how the body is split into
//! chunks, the rest is the body (or, for the structured multipart mode, the fields):
//! - 0: `application/x-www-form-urlencoded`;
//! - 1: `multipart/form-data; boundary=BOUNDARY` with the raw body;
//! - 2: `multipart/form-data`, the boundary taken from the input up to the first `\n`;
//! - 3: a content type taken from the input up to the first `\n` (garbage, upper case, ...);
//! - 4: no content type;
//! - 5: a well-formed multipart body built from the input: parts separated by 0xFF, each
//!   `name 0xFE value` (with a filename and a part content type when the name starts with `f`).

#![no_main]

use std::convert::Infallible;
use std::sync::LazyLock;

use axum::body::{Body, Bytes};
use axum::extract::FromRequest;
use axum::http::{Method, Request, header};
use axum::response::IntoResponse;
use fastusers::extract::LoginForm;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime")
});

const BOUNDARY: &str = "BOUNDARY";

fn split_line(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// A well-formed multipart body from `0xFF`-separated `name 0xFE value` parts.
fn multipart_body(data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in data.split(|b| *b == 0xFF) {
        let (name, value) = match part.iter().position(|b| *b == 0xFE) {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        body.extend_from_slice(b"Content-Disposition: form-data; name=\"");
        body.extend_from_slice(name);
        body.extend_from_slice(b"\"");
        if name.first() == Some(&b'f') {
            body.extend_from_slice(b"; filename=\"f.txt\"\r\nContent-Type: text/plain; charset=latin1");
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(value);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// The body in one chunk, or split into chunks of `size` bytes (streamed, as hyper delivers).
fn body(bytes: Vec<u8>, split: u8) -> Body {
    if split == 0 || bytes.is_empty() {
        return Body::from(bytes);
    }
    let bytes = Bytes::from(bytes);
    let size = split as usize;
    let chunks: Vec<Result<Bytes, Infallible>> = (0..bytes.len())
        .step_by(size)
        .map(|i| Ok(bytes.slice(i..(i + size).min(bytes.len()))))
        .collect();
    Body::from_stream(futures_util::stream::iter(chunks))
}

fuzz_target!(|data: &[u8]| {
    let Some((&[mode, split], rest)) = data.split_first_chunk::<2>() else { return };
    let (content_type, bytes): (Option<Vec<u8>>, Vec<u8>) = match mode % 6 {
        0 => (Some(b"application/x-www-form-urlencoded".to_vec()), rest.to_vec()),
        1 => (Some(format!("multipart/form-data; boundary={BOUNDARY}").into_bytes()), rest.to_vec()),
        2 => {
            let (boundary, body) = split_line(rest);
            let mut ct = b"multipart/form-data; boundary=".to_vec();
            ct.extend_from_slice(boundary);
            (Some(ct), body.to_vec())
        }
        3 => {
            let (ct, body) = split_line(rest);
            (Some(ct.to_vec()), body.to_vec())
        }
        4 => (None, rest.to_vec()),
        _ => (
            Some(format!("multipart/form-data; boundary={BOUNDARY}").into_bytes()),
            multipart_body(rest),
        ),
    };
    let mut request = Request::builder().method(Method::POST).uri("/auth/jwt/login");
    if let Some(ct) = content_type {
        // A value a client could not send (control characters) is not sent.
        if let Ok(value) = header::HeaderValue::from_bytes(&ct) {
            request = request.header(header::CONTENT_TYPE, value);
        }
    }
    let request = request.body(body(bytes, split)).expect("a valid request");

    RUNTIME.block_on(async {
        match LoginForm::from_request(request, &()).await {
            Ok(form) => {
                assert!(!form.username.is_empty() && !form.password.is_empty(), "{form:?}");
            }
            Err(rejection) => {
                let status = rejection.status();
                assert!(status.is_client_error(), "a {status} rejection: {rejection}");
                let response = rejection.into_response();
                assert!(response.status().is_client_error(), "answered {}", response.status());
                let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                    .await
                    .expect("the answer's body");
                let json: Value = serde_json::from_slice(&body).expect("a JSON answer");
                assert!(json.get("detail").is_some(), "no detail: {json}");
            }
        }
    });
});

//! The errors the edge answers itself, in the XML form of CloudFront's 403s.

use axum::body::Body;
use http::{HeaderValue, Response, StatusCode, header};

use super::ViewerError;

/// An error the edge answers itself (a signature denial is a
/// [`Denial`](cfsign::verify::Denial) instead): its status, and a body in the
/// form of CloudFront's 403s, `Content-Type: text/xml`:
///
/// `<?xml version="1.0" encoding="UTF-8"?><Error><Code>…</Code><Message>…</Message></Error>`
///
/// Codes and messages are S3's where S3 has the error (CloudFront passes an S3
/// origin's errors through as they are), from the error list of the S3 API
/// reference ("Error responses", the `Error.Code` documentation of the S3
/// service model, API version 2006-03-01). Where S3 has none, the code is the
/// name CloudFront's access logs give the error (`x-edge-detailed-result-type`
/// in "Standard logging"), and the message is cfsign's:
///
/// | status | code | message | from |
/// |---|---|---|---|
/// | 400 | `InvalidRequestHeader` | a sentence naming the header | CloudFront's log |
/// | 400 | `InvalidRequest` | a sentence naming the target's fault | CloudFront's log |
/// | 400 | `InvalidURI` | Couldn't parse the specified URI. | S3 |
/// | 403 | `AccessDenied` | Access Denied | S3 |
/// | 404 | `NoSuchKey` | The specified key does not exist. | S3 |
/// | 405 | `MethodNotAllowed` | The specified method is not allowed against this resource. | S3 |
/// | 412 | `PreconditionFailed` | At least one of the preconditions you specified did not hold. | S3 |
/// | 416 | `InvalidRange` | The requested range cannot be satisfied. | S3 |
/// | 502 | `OriginError` | The origin failed or could not be reached; try again later. | CloudFront's log |
/// | 504 | `OriginCommError` | The origin did not answer in time; try again later. | CloudFront's log |
///
/// Bodies never echo the request (no URL, no header value).
///
/// ```
/// use cfsign_edge::access::ErrorResponse;
///
/// let error = ErrorResponse::NoSuchKey;
/// assert_eq!(error.status(), 404);
/// assert_eq!(
///     error.xml_body(),
///     r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"#
/// );
/// let response = error.response();
/// assert_eq!(response.headers()["content-type"], "text/xml");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorResponse {
    /// 400: more than one `Host` header (RFC 9112 §3.2).
    DuplicateHost,
    /// 400: no `Host` header in an HTTP/1.1 request (RFC 9112 §3.2), or none in an
    /// HTTP/1.0 request whose viewer URL needs one.
    MissingHost,
    /// 400: a `Host` header that is not a host name with an optional port.
    BadHost,
    /// 400: `Cookie` headers longer than CloudFront's request limit (20,480 bytes).
    CookiesTooLarge,
    /// 400: an absolute-form target whose authority is not a host name with an
    /// optional port (e.g. it has user information).
    BadTarget,
    /// 400: an absolute-form target for another scheme than the connection's.
    SchemeMismatch,
    /// 400: a path that cannot name an object (dot segments, encoded slashes, ...).
    InvalidUri,
    /// 403: the origin refused access (not a signature denial).
    AccessDenied,
    /// 404: no such object.
    NoSuchKey,
    /// 405: a method other than `GET` and `HEAD`.
    MethodNotAllowed,
    /// 412: an `If-Match` or `If-Unmodified-Since` that does not hold.
    PreconditionFailed,
    /// 416: a range that starts past the end of the object.
    InvalidRange,
    /// 502: the origin failed or could not be reached.
    OriginError,
    /// 504: the origin did not answer in time.
    OriginTimeout,
}

impl ErrorResponse {
    /// The HTTP status.
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            Self::DuplicateHost
            | Self::MissingHost
            | Self::BadHost
            | Self::CookiesTooLarge
            | Self::BadTarget
            | Self::SchemeMismatch
            | Self::InvalidUri => StatusCode::BAD_REQUEST,
            Self::AccessDenied => StatusCode::FORBIDDEN,
            Self::NoSuchKey => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::InvalidRange => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::OriginError => StatusCode::BAD_GATEWAY,
            Self::OriginTimeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The `<Code>`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::DuplicateHost | Self::MissingHost | Self::BadHost | Self::CookiesTooLarge => {
                "InvalidRequestHeader"
            }
            Self::BadTarget | Self::SchemeMismatch => "InvalidRequest",
            Self::InvalidUri => "InvalidURI",
            Self::AccessDenied => "AccessDenied",
            Self::NoSuchKey => "NoSuchKey",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::InvalidRange => "InvalidRange",
            Self::OriginError => "OriginError",
            Self::OriginTimeout => "OriginCommError",
        }
    }

    /// The `<Message>`.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            Self::DuplicateHost => "The request has more than one Host header.",
            Self::MissingHost => "The request has no Host header.",
            Self::BadHost => "The Host header is not a valid host name.",
            Self::CookiesTooLarge => "The Cookie headers are longer than 20,480 bytes.",
            Self::BadTarget => "The request target's authority is not a valid host name.",
            Self::SchemeMismatch => {
                "The request target's scheme is not the scheme of this connection."
            }
            Self::InvalidUri => "Couldn't parse the specified URI.",
            Self::AccessDenied => "Access Denied",
            Self::NoSuchKey => "The specified key does not exist.",
            Self::MethodNotAllowed => "The specified method is not allowed against this resource.",
            Self::PreconditionFailed => {
                "At least one of the preconditions you specified did not hold."
            }
            Self::InvalidRange => "The requested range cannot be satisfied.",
            Self::OriginError => "The origin failed or could not be reached; try again later.",
            Self::OriginTimeout => "The origin did not answer in time; try again later.",
        }
    }

    /// The XML body.
    #[must_use]
    pub fn xml_body(self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>{}</Code><Message>{}</Message></Error>"#,
            self.code(),
            self.message()
        )
    }

    /// The response: the status, `Content-Type: text/xml` and the XML body.
    #[must_use]
    pub fn response(self) -> Response<Body> {
        xml_response(self.status(), self.xml_body())
    }
}

impl From<ViewerError> for ErrorResponse {
    fn from(e: ViewerError) -> Self {
        match e {
            ViewerError::NoHost => Self::MissingHost,
            ViewerError::DuplicateHost => Self::DuplicateHost,
            ViewerError::BadHost => Self::BadHost,
            ViewerError::BadTarget => Self::BadTarget,
            ViewerError::SchemeMismatch => Self::SchemeMismatch,
        }
    }
}

/// A response with `status` and an XML error body (`Content-Type: text/xml`).
pub(crate) fn xml_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    response
}

//! The routing proxy: Lambda invokes go to the Lambda backend, everything else to moto.
//!
//! moto's Step Functions interpreter invokes Lambdas at `http://localhost:$MOTO_PORT`
//! and ignores `AWS_ENDPOINT_URL_LAMBDA`, so moto is started with `MOTO_PORT` = this
//! proxy's port. Two fixes make `cargo lambda watch` look like Lambda to moto
//! (`docs/moto-sfn.md`, last section):
//!
//! 1. moto sends the function ARN URL-encoded; the watch only knows bare names, and 404s
//!    on ARNs and on `name:$LATEST`. The proxy passes the bare name.
//! 2. The watch answers a failed invoke with HTTP 500 and no `X-Amz-Function-Error`;
//!    passed through, every error becomes `States.Runtime`. The proxy answers 200 +
//!    `X-Amz-Function-Error: Unhandled` with the same body, so moto takes the error name
//!    from `errorType` and Retry/Catch by name work.
//!
//! Both sockets use TCP_NODELAY and small answers are written whole: a proxy that writes
//! headers and body separately hits Nagle + delayed ACK, about 44 ms per call.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt as _;
use bytes::Bytes;
use futures_util::TryStreamExt as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::LocalStackError;
use crate::moto::{aws_env_for, local_http_client, sdk_config_for};

/// Bodies up to this size are read whole and written in one piece; larger ones stream.
const WHOLE_BODY_LIMIT: u64 = 1024 * 1024;
/// How long `shutdown()` lets requests in flight finish before it cuts them off.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1).
const CONNECTION_HEADERS: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Where the proxy sends requests.
#[derive(Debug, Clone)]
pub struct ProxyTargets {
    /// Everything that is not a Lambda invoke goes here (moto), e.g. `http://127.0.0.1:5000`.
    pub aws_upstream: String,
    /// Lambda invokes go here (`cargo lambda watch` or a test server); `None` answers them with an error.
    pub lambda_backend: Option<String>,
}

/// A bound, not yet serving proxy socket: its port can be handed to moto before moto starts.
#[derive(Debug)]
pub struct ProxyListener {
    listener: TcpListener,
    port: u16,
}

impl ProxyListener {
    /// Binds 127.0.0.1 on a free port; connections wait in the backlog until [`ProxyListener::serve`].
    pub async fn bind() -> Result<Self, LocalStackError> {
        let io_error = |source| LocalStackError::Io {
            action: "cannot bind the routing proxy to 127.0.0.1".to_owned(),
            source,
        };
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(io_error)?;
        let port = listener.local_addr().map_err(io_error)?.port();
        Ok(Self { listener, port })
    }

    /// The port the proxy listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Starts serving on the bound socket.
    pub fn serve(self, targets: ProxyTargets) -> RoutingProxy {
        let state = Arc::new(ProxyState {
            http: local_http_client(),
            aws_upstream: targets.aws_upstream.trim_end_matches('/').to_owned(),
            lambda_backend: targets
                .lambda_backend
                .map(|url| url.trim_end_matches('/').to_owned()),
        });
        let router = Router::new()
            .route(
                "/2015-03-31/functions/{function}/invocations",
                post(invoke).fallback(forward),
            )
            .fallback(forward)
            .with_state(state);
        let listener = self.listener.tap_io(|stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY on a proxy connection");
            }
        });
        let (stop_sender, stop_receiver) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serving = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop_receiver.await;
            });
            if let Err(error) = serving.await {
                tracing::error!(%error, "the routing proxy stopped");
            }
        });
        RoutingProxy {
            port: self.port,
            endpoint_url: format!("http://127.0.0.1:{}", self.port),
            stop: Some(stop_sender),
            server,
        }
    }
}

/// The running proxy on 127.0.0.1, stopped on [`RoutingProxy::shutdown`] or drop.
#[derive(Debug)]
pub struct RoutingProxy {
    port: u16,
    endpoint_url: String,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
}

impl RoutingProxy {
    /// Binds a free port and serves at once (when moto needs no `MOTO_PORT` from it).
    pub async fn start(targets: ProxyTargets) -> Result<Self, LocalStackError> {
        Ok(ProxyListener::bind().await?.serve(targets))
    }

    /// The port the proxy listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The proxy's endpoint, `http://127.0.0.1:PORT`: the one AWS endpoint of the local stack.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// The environment a child process needs to reach the local AWS services through the proxy.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        aws_env_for(&self.endpoint_url)
    }

    /// An SDK configuration whose calls go through the proxy.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config_for(&self.endpoint_url).await
    }

    /// Stops accepting, lets requests in flight finish for up to 2 s, then closes.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
    }
}

impl Drop for RoutingProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.abort();
    }
}

#[derive(Debug)]
struct ProxyState {
    http: reqwest::Client,
    aws_upstream: String,
    lambda_backend: Option<String>,
}

/// The function name in what moto puts in the invoke path: a full or partial ARN, or a
/// name, each with an optional qualifier (`:$LATEST`, a version or an alias).
pub fn function_name(identifier: &str) -> &str {
    let fields: Vec<&str> = identifier.split(':').collect();
    match fields.as_slice() {
        // arn:aws:lambda:us-east-1:123456789012:function:NAME[:qualifier]
        ["arn", _, "lambda", _, _, "function", name, ..] => name,
        // 123456789012:function:NAME[:qualifier]
        [_, "function", name, ..] => name,
        // NAME[:qualifier]
        [name, ..] => name,
        [] => identifier,
    }
}

async fn invoke(
    State(state): State<Arc<ProxyState>>,
    Path(identifier): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let function = function_name(&identifier).to_owned();
    let Some(backend) = state.lambda_backend.clone() else {
        return lambda_error_response(
            StatusCode::BAD_GATEWAY,
            "ServiceException",
            &format!(
                "the local stack has no Lambda backend, so {function} cannot run; start it with cargo lambda watch or a backend URL"
            ),
        );
    };
    let asynchronous = headers
        .get("x-amz-invocation-type")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"Event"));
    let content_type = headers.get(header::CONTENT_TYPE).cloned();
    let call = call_backend(state, backend, function.clone(), content_type, body);
    if asynchronous {
        // Lambda queues an `Event` invoke and answers 202 at once.
        tokio::spawn(async move {
            let answer = call.await;
            if !answer.status().is_success() || answer.headers().contains_key(FUNCTION_ERROR) {
                tracing::warn!(%function, status = %answer.status(), "asynchronous invoke failed");
            }
        });
        return with_request_id(StatusCode::ACCEPTED.into_response());
    }
    call.await
}

const FUNCTION_ERROR: &str = "x-amz-function-error";

async fn call_backend(
    state: Arc<ProxyState>,
    backend: String,
    function: String,
    content_type: Option<HeaderValue>,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let url = format!("{backend}/2015-03-31/functions/{function}/invocations");
    let mut request = state.http.post(&url).body(body);
    if let Some(content_type) = content_type {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let answer = match request.send().await {
        Ok(answer) => answer,
        Err(error) => {
            return lambda_error_response(
                StatusCode::BAD_GATEWAY,
                "ServiceException",
                &format!(
                    "the Lambda backend at {backend} did not answer the invoke of {function}: {error}"
                ),
            );
        }
    };
    let status = answer.status();
    let already_flagged = answer.headers().get(FUNCTION_ERROR).cloned();
    let body = match answer.bytes().await {
        Ok(body) => body,
        Err(error) => {
            return lambda_error_response(
                StatusCode::BAD_GATEWAY,
                "ServiceException",
                &format!(
                    "the Lambda backend at {backend} broke off the answer for {function}: {error}"
                ),
            );
        }
    };
    tracing::debug!(%function, %status, elapsed_ms = started.elapsed().as_millis(), "invoke");
    let response = match status {
        StatusCode::OK => {
            let mut response = json_response(StatusCode::OK, body);
            if let Some(flag) = already_flagged {
                response.headers_mut().insert(FUNCTION_ERROR, flag);
            }
            response
        }
        StatusCode::INTERNAL_SERVER_ERROR if is_function_error(&body) => {
            let mut response = json_response(StatusCode::OK, body);
            response
                .headers_mut()
                .insert(FUNCTION_ERROR, HeaderValue::from_static("Unhandled"));
            response
        }
        StatusCode::NOT_FOUND => {
            return lambda_error_response(
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                &format!(
                    "Function not found: {function} (the Lambda backend said: {})",
                    String::from_utf8_lossy(&body)
                ),
            );
        }
        other => json_response(other, body),
    };
    let mut response = with_request_id(response);
    response.headers_mut().insert(
        HeaderName::from_static("x-amz-executed-version"),
        HeaderValue::from_static("$LATEST"),
    );
    response
}

/// A Lambda runtime error answer: a JSON object with an `errorType`.
fn is_function_error(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|value| {
        value
            .get("errorType")
            .is_some_and(serde_json::Value::is_string)
    })
}

fn json_response(status: StatusCode, body: Bytes) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// An error of the Lambda service itself (not of the function), as the Lambda API sends it.
fn lambda_error_response(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    tracing::warn!(error_type, message, "Lambda invoke failed in the proxy");
    let body = serde_json::json!({ "Type": "Service", "message": message }).to_string();
    let mut response = json_response(status, Bytes::from(body));
    response.headers_mut().insert(
        HeaderName::from_static("x-amzn-errortype"),
        HeaderValue::from_static(error_type),
    );
    with_request_id(response)
}

/// Adds the `x-amzn-RequestId` every Lambda answer has (boto3 reads it into ResponseMetadata).
fn with_request_id(mut response: Response) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-amzn-requestid"), value);
    }
    response
}

/// Passes a request to moto unchanged and streams moto's answer back.
async fn forward(State(state): State<Arc<ProxyState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or("/", |path_and_query| path_and_query.as_str());
    let url = format!("{}{path_and_query}", state.aws_upstream);
    let mut headers = parts.headers;
    let chunked = headers.contains_key(header::TRANSFER_ENCODING);
    strip_connection_headers(&mut headers);
    // The proxy's own server has already answered any `Expect: 100-continue`.
    headers.remove(header::EXPECT);
    let upstream_body = match content_length(&headers) {
        Some(length) if length <= WHOLE_BODY_LIMIT => {
            match axum::body::to_bytes(body, WHOLE_BODY_LIMIT as usize).await {
                Ok(bytes) => reqwest::Body::from(bytes),
                Err(error) => return proxy_failure(&url, &error.to_string()),
            }
        }
        // The Content-Length header stays, and hyper sends the stream with that length.
        Some(_) => reqwest::Body::wrap_stream(body.into_data_stream()),
        None if chunked => reqwest::Body::wrap_stream(body.into_data_stream()),
        None => reqwest::Body::from(Bytes::new()),
    };
    let answer = state
        .http
        .request(parts.method.clone(), &url)
        .headers(headers)
        .body(upstream_body)
        .send()
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => return proxy_failure(&url, &error.to_string()),
    };
    let status = answer.status();
    let mut answer_headers = answer.headers().clone();
    strip_connection_headers(&mut answer_headers);
    let body = if parts.method == Method::HEAD {
        // No body, but moto's Content-Length stays: it is the object's size (HeadObject).
        Body::empty()
    } else if content_length(&answer_headers).is_some_and(|length| length <= WHOLE_BODY_LIMIT) {
        match answer.bytes().await {
            Ok(bytes) => Body::from(bytes),
            Err(error) => return proxy_failure(&url, &error.to_string()),
        }
    } else {
        Body::from_stream(answer.bytes_stream().map_err(std::io::Error::other))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = answer_headers;
    response
}

fn strip_connection_headers(headers: &mut HeaderMap) {
    // Headers named in `Connection` are connection-scoped too.
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in CONNECTION_HEADERS {
        headers.remove(name);
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn proxy_failure(url: &str, detail: &str) -> Response {
    tracing::warn!(url, detail, "the routing proxy could not forward a request");
    (
        StatusCode::BAD_GATEWAY,
        format!(
            "the local-stack routing proxy could not reach {url}: {detail}; is moto still running?"
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_name_comes_from_a_full_arn_with_or_without_qualifier() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:report-creator";
        assert_eq!(function_name(arn), "report-creator");
        assert_eq!(function_name(&format!("{arn}:$LATEST")), "report-creator");
        assert_eq!(function_name(&format!("{arn}:live")), "report-creator");
    }

    #[test]
    fn function_name_comes_from_a_partial_arn_or_a_name() {
        assert_eq!(function_name("123456789012:function:auth"), "auth");
        assert_eq!(function_name("123456789012:function:auth:7"), "auth");
        assert_eq!(function_name("auth"), "auth");
        assert_eq!(function_name("auth:$LATEST"), "auth");
    }

    #[test]
    fn only_a_json_object_with_error_type_is_a_function_error() {
        assert!(is_function_error(
            br#"{"errorType":"Throttled","errorMessage":"slow down"}"#
        ));
        assert!(!is_function_error(b"Internal Server Error"));
        assert!(!is_function_error(br#"{"message":"boom"}"#));
    }

    #[test]
    fn connection_scoped_headers_are_not_forwarded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-hop"),
        );
        headers.insert("x-hop", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(
            "x-amz-target",
            HeaderValue::from_static("AmazonSQS.SendMessage"),
        );
        strip_connection_headers(&mut headers);
        assert_eq!(headers.len(), 1);
        assert!(headers.contains_key("x-amz-target"));
    }
}

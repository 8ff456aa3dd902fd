//! The edge's Prometheus metrics, with the `prometheus-client` crate.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::cache::ObjectCache;
use crate::tls::EdgeTls;

/// The `Content-Type` of [`Metrics::encode`]'s output (OpenMetrics text, which
/// Prometheus scrapes natively).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Verification buckets (seconds): 10 µs to 100 ms. A cached signature answers in
/// microseconds, an RSA-2048 check in tens of microseconds.
const VERIFICATION_BUCKETS: [f64; 12] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.1,
];

/// Request buckets (seconds): 1 ms (a cached answer or a denial) to 60 s (a
/// large body streamed to a slow viewer: the duration ends with the body).
const REQUEST_BUCKETS: [f64; 15] = [
    0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Origin buckets (seconds): 0.5 ms (a local file) to 10 s (a slow bucket).
const ORIGIN_BUCKETS: [f64; 14] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    code: StatusCode,
    error_code: &'static str,
    behavior: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    behavior: Arc<str>,
    code: StatusCode,
}

/// An HTTP status as a label value: the number, as a string (`"200"`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct StatusCode(u16);

impl prometheus_client::encoding::EncodeLabelValue for StatusCode {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelValueEncoder<'_>,
    ) -> std::fmt::Result {
        std::fmt::Write::write_fmt(encoder, format_args!("{}", self.0))
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    commit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReloadLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OriginLabels {
    op: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily<DurationLabels>,
    cache: Family<CacheLabels, Counter>,
    response_bytes: Counter,
    verification: HistogramFamily<OutcomeLabels>,
    origin: HistogramFamily<OriginLabels>,
    connections: Gauge,
    tls_failures: Family<ReasonLabels, Counter>,
    send_timeouts: Counter,
    log_dropped: Counter,
    reloads: Family<ReloadLabels, Counter>,
    last_reload: Gauge,
    /// Read at each scrape: the cache's size, the served certificate.
    watched: Arc<Watched>,
}

/// What the gauges read at each scrape come from; a gauge is absent while its
/// source is (no cache, no TLS).
#[derive(Default)]
struct Watched {
    cache: Mutex<Option<ObjectCache>>,
    tls: Mutex<Option<EdgeTls>>,
}

impl std::fmt::Debug for Watched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watched").finish_non_exhaustive()
    }
}

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: i64,
) -> std::fmt::Result {
    let gauge = ConstGauge::new(value);
    let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
    gauge.encode(metric)
}

impl Collector for Watched {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(cache) = cache {
            let (bytes, entries) = cache.usage();
            gauge(
                &mut encoder,
                "cfsign_edge_cache_bytes",
                "Bytes the object cache holds (bodies and per-entry overhead)",
                i64::try_from(bytes).unwrap_or(i64::MAX),
            )?;
            gauge(
                &mut encoder,
                "cfsign_edge_cache_entries",
                "Entries the object cache holds",
                i64::try_from(entries).unwrap_or(i64::MAX),
            )?;
        }
        let tls = self
            .tls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(expiry) = tls.as_ref().and_then(not_after) {
            gauge(
                &mut encoder,
                "cfsign_edge_tls_certificate_expiry_timestamp_seconds",
                "The served TLS certificate's notAfter, as Unix time",
                expiry,
            )?;
        }
        Ok(())
    }
}

/// The edge's metrics; cheap to clone (all clones share the counters).
///
/// | metric | labels | meaning |
/// |---|---|---|
/// | `cfsign_edge_requests_total` | `code`, `error_code`, `behavior` | finished requests; `code` is the HTTP status (`"200"`; `"0"` when the viewer left before a response); `error_code` CloudFront's denial code (`MissingKey`, `AccessDenied`, ...) or `-`; `behavior` the path pattern that served it (`-` when none) |
/// | `cfsign_edge_request_duration_seconds` | `behavior`, `code` | time from the request's arrival to the end of its response body (or the viewer leaving) |
/// | `cfsign_edge_cache_total` | `result` = `hit`, `miss`, `error` | the `X-Cache` outcome: `hit` answered from the object cache |
/// | `cfsign_edge_response_bytes_total` | — | response body bytes handed to viewers, counted as they stream |
/// | `cfsign_edge_verification_seconds` | `outcome` = `allowed`, `denied` | time to verify a signed URL or cookies |
/// | `cfsign_edge_origin_seconds` | `op` = `head`, `get` | time until the origin answered (metadata ready, body about to stream) |
/// | `cfsign_edge_connections` | — | viewer connections open now |
/// | `cfsign_edge_tls_handshake_failures_total` | `reason` = `timeout`, `error` | TLS connections dropped before a request: no handshake within the header timeout, or a failed one (plain HTTP to the TLS port, no common protocol, an untrusted client) |
/// | `cfsign_edge_send_timeouts_total` | — | connections closed because the viewer accepted no data for the send timeout (a client that stopped reading) |
/// | `cfsign_edge_access_log_dropped_total` | — | access-log lines dropped because the writer fell behind |
/// | `cfsign_edge_reloads_total` | `result` = `ok`, `error` | configuration reloads (SIGHUP, `POST /reload`, a watched file's change: [`reload`](crate::reload)) |
/// | `cfsign_edge_last_reload_timestamp_seconds` | — | Unix time of the last successful reload (0: none yet) |
/// | `cfsign_edge_cache_bytes` | — | bytes the object cache holds (bodies and per-entry overhead), read at each scrape |
/// | `cfsign_edge_cache_entries` | — | entries the object cache holds, read at each scrape |
/// | `cfsign_edge_tls_certificate_expiry_timestamp_seconds` | — | the served certificate's notAfter, as Unix time (absent without TLS) |
/// | `cfsign_build_info` | `version`, `commit` | always 1: the edge's version and git commit (`unknown` outside a checkout) |
///
/// No label carries a URL, a header or an address: the series are bounded by
/// the status codes, the five denial codes and the configured behaviors. The
/// cache gauges are present when an [`Edge`](crate::edge::Edge) with a cache
/// counts into these metrics, the certificate's when [`serve`](crate::server::serve)
/// runs TLS with them.
///
/// ```
/// use cfsign_edge::observe::Metrics;
///
/// let metrics = Metrics::new();
/// let text = metrics.encode();
/// assert!(text.contains("cfsign_edge_cache_total{result=\"hit\"} 0"));
/// assert!(text.ends_with("# EOF\n"));
/// ```
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn verification_histogram() -> Histogram {
    Histogram::new(VERIFICATION_BUCKETS)
}

fn origin_histogram() -> Histogram {
    Histogram::new(ORIGIN_BUCKETS)
}

fn request_histogram() -> Histogram {
    Histogram::new(REQUEST_BUCKETS)
}

/// The served certificate's notAfter (Unix seconds), if its DER parses.
fn not_after(tls: &EdgeTls) -> Option<i64> {
    let chain = tls.chain();
    let (_, leaf) = x509_parser::parse_x509_certificate(chain.first()?.as_ref()).ok()?;
    Some(leaf.validity().not_after.timestamp())
}

impl Metrics {
    /// A fresh set of metrics, all zero.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "cfsign_edge_requests",
            "Requests answered, by HTTP status (code), CloudFront error code (error_code, - when none) and behavior path pattern",
            requests.clone(),
        );
        let durations: HistogramFamily<DurationLabels> =
            Family::new_with_constructor(request_histogram);
        registry.register_with_unit(
            "cfsign_edge_request_duration",
            "Time from a request's arrival to the end of its response body, by behavior and HTTP status (code)",
            Unit::Seconds,
            durations.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cfsign_edge_cache",
            "Responses by X-Cache outcome (hit: from the object cache, miss, error)",
            cache.clone(),
        );
        let response_bytes = Counter::default();
        registry.register_with_unit(
            "cfsign_edge_response",
            "Response body bytes sent to viewers (headers not counted)",
            Unit::Bytes,
            response_bytes.clone(),
        );
        let verification: HistogramFamily<OutcomeLabels> =
            Family::new_with_constructor(verification_histogram);
        registry.register_with_unit(
            "cfsign_edge_verification",
            "Time to verify a request's signed URL or cookies, by outcome (allowed, denied)",
            Unit::Seconds,
            verification.clone(),
        );
        let origin: HistogramFamily<OriginLabels> = Family::new_with_constructor(origin_histogram);
        registry.register_with_unit(
            "cfsign_edge_origin",
            "Time to first byte from the origin (metadata ready, body about to stream), by operation (head, get)",
            Unit::Seconds,
            origin.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "cfsign_edge_connections",
            "Viewer connections open now",
            connections.clone(),
        );
        let tls_failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "cfsign_edge_tls_handshake_failures",
            "TLS connections dropped before a request, by reason (timeout, error)",
            tls_failures.clone(),
        );
        let send_timeouts = Counter::default();
        registry.register(
            "cfsign_edge_send_timeouts",
            "Viewer connections closed because the viewer accepted no data for the send timeout",
            send_timeouts.clone(),
        );
        let log_dropped = Counter::default();
        registry.register(
            "cfsign_edge_access_log_dropped",
            "Access-log lines dropped because the log writer fell behind",
            log_dropped.clone(),
        );
        let reloads = Family::<ReloadLabels, Counter>::default();
        registry.register(
            "cfsign_edge_reloads",
            "Configuration reloads (SIGHUP, POST /reload, a watched file's change), by result (ok, error)",
            reloads.clone(),
        );
        let last_reload = Gauge::default();
        registry.register(
            "cfsign_edge_last_reload_timestamp_seconds",
            "Unix time of the last successful configuration reload (0: none yet)",
            last_reload.clone(),
        );
        let watched = Arc::new(Watched::default());
        registry.register_collector(Box::new(Arc::clone(&watched)));
        let build = Family::<BuildLabels, Gauge>::default();
        registry.register(
            "cfsign_build_info",
            "Always 1: the edge's version and git commit",
            build.clone(),
        );
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
                commit: env!("CFSIGN_EDGE_GIT_COMMIT"),
            })
            .set(1);
        // Series known in advance start at 0 rather than appear on first use.
        for result in ["hit", "miss", "error"] {
            let _ = cache.get_or_create(&CacheLabels { result });
        }
        for outcome in ["allowed", "denied"] {
            let _ = verification.get_or_create(&OutcomeLabels { outcome });
        }
        for op in ["head", "get"] {
            let _ = origin.get_or_create(&OriginLabels { op });
        }
        for reason in ["timeout", "error"] {
            let _ = tls_failures.get_or_create(&ReasonLabels { reason });
        }
        for result in ["ok", "error"] {
            let _ = reloads.get_or_create(&ReloadLabels { result });
        }
        Self(Arc::new(Inner {
            registry,
            requests,
            durations,
            cache,
            response_bytes,
            verification,
            origin,
            connections,
            tls_failures,
            send_timeouts,
            log_dropped,
            reloads,
            last_reload,
            watched,
        }))
    }

    /// Reports `cache`'s size at each scrape (`cfsign_edge_cache_bytes`,
    /// `cfsign_edge_cache_entries`); [`Edge`](crate::edge::Edge) calls it for
    /// its cache.
    pub fn watch_cache(&self, cache: &ObjectCache) {
        *self
            .0
            .watched
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(cache.clone());
    }

    /// Reports the certificate `tls` serves at each scrape
    /// (`cfsign_edge_tls_certificate_expiry_timestamp_seconds`, following
    /// [`EdgeTls::replace`]); [`serve`](crate::server::serve) calls it.
    pub fn watch_tls(&self, tls: &EdgeTls) {
        *self
            .0
            .watched
            .tls
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(tls.clone());
    }

    /// Counts a configuration reload: `ok` also sets
    /// `cfsign_edge_last_reload_timestamp_seconds` to now.
    pub fn reloaded(&self, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.0.reloads.get_or_create(&ReloadLabels { result }).inc();
        if ok {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            self.0
                .last_reload
                .set(i64::try_from(now).unwrap_or(i64::MAX));
        }
    }

    /// The metrics in the OpenMetrics text format (see [`CONTENT_TYPE`]).
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.0.registry);
        out
    }

    pub(crate) fn request(
        &self,
        status: u16,
        error_code: &'static str,
        behavior: Arc<str>,
        cache: &'static str,
        took: Duration,
    ) {
        let code = StatusCode(status);
        self.0
            .durations
            .get_or_create(&DurationLabels {
                behavior: Arc::clone(&behavior),
                code,
            })
            .observe(took.as_secs_f64());
        self.0
            .requests
            .get_or_create(&RequestLabels {
                code,
                error_code,
                behavior,
            })
            .inc();
        self.0
            .cache
            .get_or_create(&CacheLabels { result: cache })
            .inc();
    }

    pub(crate) fn response_bytes(&self, n: u64) {
        self.0.response_bytes.inc_by(n);
    }

    pub(crate) fn verification(&self, took: Duration, allowed: bool) {
        let outcome = if allowed { "allowed" } else { "denied" };
        self.0
            .verification
            .get_or_create(&OutcomeLabels { outcome })
            .observe(took.as_secs_f64());
    }

    pub(crate) fn origin(&self, op: &'static str, took: Duration) {
        self.0
            .origin
            .get_or_create(&OriginLabels { op })
            .observe(took.as_secs_f64());
    }

    pub(crate) fn connection_opened(&self) {
        self.0.connections.inc();
    }

    pub(crate) fn connection_closed(&self) {
        self.0.connections.dec();
    }

    pub(crate) fn tls_handshake_failed(&self, timed_out: bool) {
        let reason = if timed_out { "timeout" } else { "error" };
        self.0
            .tls_failures
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    pub(crate) fn send_timed_out(&self) {
        self.0.send_timeouts.inc();
    }

    pub(crate) fn log_dropped(&self) {
        self.0.log_dropped.inc();
    }
}

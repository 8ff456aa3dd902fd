//! Edges for tests: one behavior over one origin, built the way the CLI builds
//! them ([`Edge::new`]).

use std::sync::Arc;

use cfsign_edge::access::AccessConfig;
use cfsign_edge::behavior::{Behavior, Behaviors, PathPattern};
use cfsign_edge::cache::{ObjectCache, TtlPolicy};
use cfsign_edge::edge::Edge;
use cfsign_edge::observe::Metrics;
use cfsign_edge::origin::Origin;

/// Everything served from `origin` (restricted when `access` is given), with `ttl`.
pub fn behaviors(
    origin: Arc<dyn Origin>,
    access: Option<AccessConfig>,
    ttl: TtlPolicy,
) -> Behaviors {
    let default = Behavior {
        pattern: PathPattern::any(),
        origin,
        origin_name: "test".to_owned(),
        access,
        ttl,
        compress: false,
    };
    Behaviors::new(Vec::new(), default)
}

/// An edge with no cache serving everything from `origin`.
pub fn edge(origin: Arc<dyn Origin>, access: Option<AccessConfig>) -> Edge {
    Edge::new(
        &behaviors(origin, access, TtlPolicy::default()),
        None,
        Metrics::new(),
    )
}

/// An edge serving everything from `origin` through `cache`, kept for `ttl`.
pub fn cached_edge(
    origin: Arc<dyn Origin>,
    access: Option<AccessConfig>,
    cache: &ObjectCache,
    ttl: TtlPolicy,
) -> Edge {
    Edge::new(
        &behaviors(origin, access, ttl),
        Some(cache.clone()),
        Metrics::new(),
    )
}

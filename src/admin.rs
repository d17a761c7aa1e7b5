//! Runtime reconfiguration: `GET /admin/config` reports, `PUT /admin/config` changes the
//! latency, faults and catalog counts of the instance it is sent to, without a restart.
//!
//! Served only with `-admin`, and (like every path but the probes) only with the bearer
//! token when one is configured. A change builds a new dispatcher and swaps it in: requests
//! already running finish with the one they started with, new ones see the change. Every
//! change is logged at info.

use std::sync::{Arc, RwLock};

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use serde_json::Value;

use crate::cli::MAX_COUNT;
use crate::dispatch::Dispatcher;
use crate::faults::{FaultConfig, Faults, Specs};
use crate::json::write_u64;
use crate::transport::{HttpResponse, Instance, json_response, method_not_allowed, read_body};

/// The admin path.
pub const PATH: &str = "/admin/config";

/// Largest accepted `PUT` body.
const MAX_BODY: usize = 64 * 1024;

/// A value readers take a snapshot of and a writer replaces whole.
///
/// Without `-admin` nothing ever replaces the dispatcher, so [`Swap::fixed`] holds it
/// directly: every request reads it without a lock or a reference-count update.
#[derive(Debug)]
pub enum Swap<T> {
    /// Never replaced: [`Swap::store`] is refused.
    Fixed(Arc<T>),
    /// Replaced by [`Swap::store`] (`-admin`).
    Shared(RwLock<Arc<T>>),
}

/// One request's view of a [`Swap`]: borrowed from a fixed value, or a counted reference to
/// the value that was current when it was taken.
#[derive(Debug)]
pub enum Snapshot<'a, T> {
    Borrowed(&'a Arc<T>),
    Owned(Arc<T>),
}

impl<T> std::ops::Deref for Snapshot<'_, T> {
    type Target = Arc<T>;

    fn deref(&self) -> &Arc<T> {
        match self {
            Snapshot::Borrowed(v) => v,
            Snapshot::Owned(v) => v,
        }
    }
}

impl<T> Swap<T> {
    /// A value `/admin/config` can replace.
    pub fn new(value: T) -> Self {
        Self::Shared(RwLock::new(Arc::new(value)))
    }

    /// A value that stays for the life of the process.
    pub fn fixed(value: T) -> Self {
        Self::Fixed(Arc::new(value))
    }

    /// The current value.
    pub fn load(&self) -> Snapshot<'_, T> {
        match self {
            Swap::Fixed(v) => Snapshot::Borrowed(v),
            Swap::Shared(lock) => {
                Snapshot::Owned(lock.read().unwrap_or_else(|e| e.into_inner()).clone())
            }
        }
    }

    /// Replaces the value; `false` (and no change) when it is fixed.
    pub fn store(&self, value: T) -> bool {
        match self {
            Swap::Fixed(_) => false,
            Swap::Shared(lock) => {
                *lock.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
                true
            }
        }
    }
}

/// Serves `/admin/config` (the caller has checked `-admin`, the token and Host/Origin).
pub async fn route(inst: &Instance, req: Request<Incoming>) -> HttpResponse {
    match *req.method() {
        Method::GET | Method::HEAD => json_response(StatusCode::OK, report(inst)),
        Method::PUT | Method::POST => {
            let body = match read_body(req, MAX_BODY).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            match apply(inst, &body) {
                Ok(()) => json_response(StatusCode::OK, report(inst)),
                Err(why) => {
                    log::debug!("admin: refused a change: {why}");
                    let mut out = b"{\"error\":".to_vec();
                    crate::json::write_string(&mut out, &why);
                    out.push(b'}');
                    json_response(StatusCode::BAD_REQUEST, out)
                }
            }
        }
        _ => method_not_allowed("GET, PUT"),
    }
}

/// The current settings and counters as JSON.
fn report(inst: &Instance) -> Vec<u8> {
    let d = inst.dispatcher.load();
    let mut out = b"{".to_vec();
    crate::faults::write_report(&mut out, d.faults().map(|f| &**f), &inst.config.faults);
    let c = d.catalog();
    for (key, n) in [
        ("tools", c.tools),
        ("resources", c.resources),
        ("prompts", c.prompts),
    ] {
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        write_u64(&mut out, n);
    }
    out.push(b'}');
    out
}

/// A string setting, or a number given for one.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Validates the whole change first, then swaps in a dispatcher that has it.
fn apply(inst: &Instance, body: &[u8]) -> Result<(), String> {
    let change: Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let Value::Object(change) = change else {
        return Err("body must be a JSON object".to_string());
    };
    let current = inst.dispatcher.load();
    let old = current.faults().map_or(&inst.config.faults, |f| f.config());
    let mut specs: Specs = old.specs().clone();
    let mut seed = old.seed;
    let mut counts = {
        let c = current.catalog();
        [c.tools, c.resources, c.prompts]
    };
    let mut changed = Vec::new();
    for (key, value) in &change {
        let bad = || format!("bad value for {key}: {value}");
        let slot = match key.replace('-', "_").as_str() {
            "latency" => &mut specs.latency,
            "error_rate" => &mut specs.error_rate,
            "fail_first" => &mut specs.fail_first,
            "cursor_fault" => &mut specs.cursor_fault,
            "seed" => {
                seed = number(value).ok_or_else(bad)?;
                changed.push(format!("seed={seed}"));
                continue;
            }
            k @ ("tools" | "resources" | "prompts") => {
                let n = number(value).filter(|&n| n <= MAX_COUNT).ok_or_else(bad)?;
                counts[match k {
                    "tools" => 0,
                    "resources" => 1,
                    _ => 2,
                }] = n;
                changed.push(format!("{k}={n}"));
                continue;
            }
            _ => return Err(format!("unknown setting '{key}'")),
        };
        *slot = text(value).ok_or_else(bad)?;
        changed.push(format!("{key}={slot:?}"));
    }
    let faults = FaultConfig::parse(seed, specs).map_err(|(flag, why)| format!("{flag}: {why}"))?;
    let mut next: Dispatcher = (**current).clone();
    let same = current.faults().is_some_and(|f| *f.config() == faults)
        || (current.faults().is_none() && faults == inst.config.faults);
    if !same {
        // A changed configuration starts its sequence (and its -fail-first counts) afresh.
        next = next.with_faults(Some(Arc::new(Faults::new(faults))));
    }
    let catalog = next.catalog_mut();
    [catalog.tools, catalog.resources, catalog.prompts] = counts;
    if !inst.dispatcher.store(next) {
        // Not reached: /admin/config is routed only with -admin, which makes it swappable.
        return Err("this instance's configuration is fixed (no -admin)".to_string());
    }
    log::info!(
        "admin: configuration changed on {}: {}",
        inst.addr,
        if changed.is_empty() {
            "nothing".to_string()
        } else {
            changed.join(" ")
        }
    );
    Ok(())
}

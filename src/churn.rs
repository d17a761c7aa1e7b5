//! Catalog churn (`-churn=interval:count`): items come and go over time, and connected clients
//! are told, so a gateway's cache invalidation can be tested.
//!
//! The catalog is a moving window: in generation `g` (the number of whole intervals since the
//! server started) item kind `K` with `N` items holds indices `g*count .. g*count + N`. Each
//! interval the `count` lowest items of every kind disappear and `count` new ones appear above
//! the highest. Nothing is stored per item or per change: the window is arithmetic on the
//! clock, so memory stays O(1) and every replica started at the same time agrees.
//!
//! At each change, streams that can carry server messages get the `list_changed` notification
//! of every kind (stdio, the legacy SSE stream, the Streamable HTTP GET stream, and
//! `subscriptions/listen` streams for the kinds they asked for), and subscribers of a resource
//! that disappeared get `notifications/resources/updated` for it.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::catalog::{Catalog, Kind};
use crate::dispatch::Dispatcher;
use crate::mcp::meta;

/// `-churn`: every `interval`, `count` items of each kind are replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Churn {
    pub interval: Duration,
    pub count: u64,
}

/// The most subscriptions one client keeps (bounds memory against a subscribe flood).
pub const MAX_SUBSCRIPTIONS: usize = 10_000;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// When generation 0 began: the first time the clock is read (at start-up).
pub fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

impl Churn {
    /// `INTERVAL:COUNT`, e.g. `5s:10`; `parse_duration` reads the interval.
    pub fn parse(
        s: &str,
        parse_duration: impl Fn(&str) -> Option<Duration>,
    ) -> Result<Self, String> {
        let (interval, count) = s
            .split_once(':')
            .ok_or("must be INTERVAL:COUNT, such as 5s:10")?;
        let interval = parse_duration(interval.trim())
            .ok_or("the interval must be a duration such as 500ms or 5s")?;
        if interval < Duration::from_millis(10) {
            return Err("the interval must be at least 10ms".to_string());
        }
        let count: u64 = count
            .trim()
            .parse()
            .map_err(|_| "the count must be a whole number")?;
        if count == 0 || count > 1_000_000_000 {
            return Err("the count must be from 1 to 1000000000".to_string());
        }
        Ok(Self { interval, count })
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        (epoch().elapsed().as_nanos() / self.interval.as_nanos().max(1)) as u64
    }

    /// Time from now until generation `g` begins.
    pub fn until(&self, g: u64) -> Duration {
        let at = self.interval.as_nanos().saturating_mul(u128::from(g));
        let at = Duration::from_nanos(at.min(u128::from(u64::MAX)) as u64);
        at.saturating_sub(epoch().elapsed())
    }

    /// The lowest index present in generation `g`.
    pub fn first(&self, g: u64) -> u64 {
        g.saturating_mul(self.count)
    }
}

/// Which change notifications a stream receives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interest {
    /// `list_changed` of tools, resources, prompts.
    pub lists: [bool; 3],
    /// Indices of subscribed resources.
    pub resources: Vec<u64>,
    /// The raw JSON id of a `subscriptions/listen` request: its notifications carry it.
    pub subscription_id: Option<String>,
}

impl Interest {
    /// Every list, no resources (clients without a way to choose: stdio, GET streams).
    pub fn all_lists() -> Self {
        Self {
            lists: [true; 3],
            ..Self::default()
        }
    }

    /// What a `notifications/subscriptions/acknowledged` message acknowledged.
    pub fn from_ack(ack: &[u8], catalog: &Catalog) -> Self {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(ack) else {
            return Self::default();
        };
        let params = &v["params"];
        let n = &params["notifications"];
        let flag = |k: &str| n.get(k).and_then(serde_json::Value::as_bool) == Some(true);
        Self {
            lists: [
                flag("toolsListChanged"),
                flag("resourcesListChanged"),
                flag("promptsListChanged"),
            ],
            resources: n["resourceSubscriptions"]
                .as_array()
                .map(|uris| {
                    uris.iter()
                        .filter_map(|u| u.as_str())
                        .filter_map(|u| catalog.resource_index(u))
                        .collect()
                })
                .unwrap_or_default(),
            subscription_id: params["_meta"]
                .get(meta::SUBSCRIPTION_ID)
                .map(|id| id.to_string()),
        }
    }
}

/// Writes the acknowledged set of a `subscriptions/listen` request: the list notifications
/// asked for and the existing resources among those asked for.
pub fn write_acknowledged(
    out: &mut Vec<u8>,
    catalog: &Catalog,
    requested: Option<simd_json::tape::Value<'_, '_>>,
) {
    use simd_json::prelude::*;
    out.push(b'{');
    let mut first = true;
    for key in [
        "toolsListChanged",
        "resourcesListChanged",
        "promptsListChanged",
    ] {
        if requested.and_then(|r| r.get(key)).and_then(|v| v.as_bool()) == Some(true) {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":true");
        }
    }
    let uris = requested
        .and_then(|r| r.get("resourceSubscriptions"))
        .and_then(|u| u.as_array());
    if let Some(uris) = uris {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        out.extend_from_slice(b"\"resourceSubscriptions\":[");
        let mut any = false;
        for uri in uris.iter().take(MAX_SUBSCRIPTIONS) {
            if let Some(u) = uri
                .into_string()
                .filter(|u| catalog.resource_index(u).is_some())
            {
                if std::mem::replace(&mut any, true) {
                    out.push(b',');
                }
                crate::json::write_string(out, u);
            }
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// Writes (newline-terminated) the notifications due to `interest` for the move from
/// generation `from` to `to`; returns how many.
pub fn write_changes(
    catalog: &Catalog,
    churn: &Churn,
    interest: &Interest,
    from: u64,
    to: u64,
    out: &mut Vec<u8>,
) -> usize {
    if to <= from {
        return 0;
    }
    let tag = |out: &mut Vec<u8>| {
        if let Some(id) = &interest.subscription_id {
            out.extend_from_slice(b"\"_meta\":{\"");
            out.extend_from_slice(meta::SUBSCRIPTION_ID.as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(id.as_bytes());
            out.push(b'}');
        }
    };
    let mut sent = 0;
    for (i, (kind, method)) in [
        (Kind::Tool, "notifications/tools/list_changed"),
        (Kind::Resource, "notifications/resources/list_changed"),
        (Kind::Prompt, "notifications/prompts/list_changed"),
    ]
    .into_iter()
    .enumerate()
    {
        if !interest.lists[i] || catalog.count(kind) == 0 {
            continue;
        }
        out.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"method\":\"");
        out.extend_from_slice(method.as_bytes());
        out.push(b'"');
        if interest.subscription_id.is_some() {
            out.extend_from_slice(b",\"params\":{");
            tag(out);
            out.push(b'}');
        }
        out.extend_from_slice(b"}\n");
        sent += 1;
    }
    // A subscribed resource changes when it leaves the window.
    let gone = churn.first(from)..churn.first(to);
    let count = catalog.count(Kind::Resource);
    let was_present = |i: u64| i >= churn.first(from) && i - churn.first(from) < count;
    for &index in &interest.resources {
        if gone.contains(&index) && was_present(index) {
            out.extend_from_slice(
                b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\",\"params\":{\"uri\":\"",
            );
            catalog.write_resource_uri(out, index);
            out.push(b'"');
            if interest.subscription_id.is_some() {
                out.push(b',');
                tag(out);
            }
            out.extend_from_slice(b"}}\n");
            sent += 1;
        }
    }
    sent
}

/// Where an HTTP stream's resource subscriptions live (its session), read at each change.
pub type Subscriptions = Box<dyn Fn() -> Vec<u64> + Send + Sync>;

/// The change notifications of one SSE stream, due as the clock moves.
pub struct Feed {
    dispatcher: Arc<Dispatcher>,
    churn: Churn,
    interest: Interest,
    subscriptions: Option<Subscriptions>,
    generation: u64,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl Feed {
    /// A feed for `interest`, or `None` when the catalog does not churn.
    pub fn new(
        dispatcher: &Arc<Dispatcher>,
        interest: Interest,
        subscriptions: Option<Subscriptions>,
    ) -> Option<Self> {
        let churn = dispatcher.catalog().churn()?;
        let generation = churn.generation();
        Some(Self {
            dispatcher: dispatcher.clone(),
            churn,
            interest,
            subscriptions,
            generation,
            sleep: Box::pin(tokio::time::sleep(churn.until(generation + 1))),
        })
    }

    /// The SSE events due now, if any; otherwise registers for the next change.
    pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Vec<u8>> {
        loop {
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = self.churn.generation();
            let from = self.generation;
            self.generation = now.max(from);
            let next = self.churn.until(self.generation + 1);
            self.sleep
                .as_mut()
                .reset(tokio::time::Instant::now() + next);
            if let Some(subs) = &self.subscriptions {
                self.interest.resources = subs();
            }
            let mut messages = Vec::new();
            let catalog = self.dispatcher.catalog();
            if write_changes(
                catalog,
                &self.churn,
                &self.interest,
                from,
                now,
                &mut messages,
            ) > 0
            {
                return Poll::Ready(crate::transport::sse_events(&messages));
            }
        }
    }
}

/// Records a `resources/subscribe` (or, with `add` false, an unsubscribe) of `uri` in a
/// client's subscriptions.
pub fn track(subscriptions: &mut Vec<u64>, catalog: &Catalog, uri: &str, add: bool) {
    let Some(index) = catalog.resource_index(uri) else {
        return;
    };
    let at = subscriptions.iter().position(|&i| i == index);
    match (add, at) {
        (true, None) if subscriptions.len() < MAX_SUBSCRIPTIONS => subscriptions.push(index),
        (false, Some(p)) => {
            subscriptions.swap_remove(p);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Churn, String> {
        Churn::parse(s, crate::cli::parse_duration)
    }

    #[test]
    fn churn_flags_parse() {
        assert_eq!(
            parse("5s:10"),
            Ok(Churn {
                interval: Duration::from_secs(5),
                count: 10
            })
        );
        for bad in ["5s", "5s:0", "x:1", "5s:-1", "1ms:1", ":", "5s:1.5"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn removed_subscribed_resources_are_reported_once() {
        let churn = parse("1s:3").unwrap();
        let catalog = Catalog::new([10, 10, 0], [1, 1, 1]);
        let interest = Interest {
            lists: [true, true, true],
            resources: vec![1, 4, 50],
            subscription_id: Some("\"s1\"".to_string()),
        };
        let mut out = Vec::new();
        let n = write_changes(&catalog, &churn, &interest, 0, 1, &mut out);
        let lines: Vec<serde_json::Value> = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        // Tools and resources changed (no prompts exist), and resource 1 left the window.
        assert_eq!(n, 3);
        assert_eq!(lines[0]["method"], "notifications/tools/list_changed");
        assert_eq!(lines[0]["params"]["_meta"][meta::SUBSCRIPTION_ID], "s1");
        assert_eq!(lines[2]["method"], "notifications/resources/updated");
        assert_eq!(
            lines[2]["params"]["uri"],
            "benchmark://benchmark_resource_1"
        );
        assert_eq!(
            write_changes(&catalog, &churn, &interest, 1, 1, &mut out),
            0
        );
    }
}

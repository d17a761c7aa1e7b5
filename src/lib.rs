//! benchmark-server: a synthetic MCP server for load-testing MCP gateways, clients and SDKs.
//!
//! # Layout
//! - [`cli`]: Go-compatible flags → validated [`cli::Config`].
//! - [`json`]: escaping, integer writing and raw-span lookup in validated JSON.
//! - [`jsonrpc`]: JSON-RPC 2.0 messages (parse with simd-json, write into buffers).
//! - [`mcp`]: protocol versions, methods, error codes.
//! - [`catalog`]: the lazy virtual catalog (index ↔ name, definitions, cursors).
//! - [`churn`]: `-churn`, a catalog window moving with the clock, and its notifications.
//! - [`payload`]: exact-size payloads (text and base64) and timestamps.
//! - [`realism`]: optional size spreads, heavy definitions, content kinds, structured results.
//! - [`dispatch`]: one message in, its response out; shared by every transport.
//! - [`session`]: Streamable HTTP session modes, limits, eviction.
//! - [`auth`]: bearer tokens and the exempt probe paths.
//! - [`faults`]: latency and fault injection (`-latency`, `-error-rate`, …), off by default.
//! - [`admin`]: `/admin/config`, runtime changes of faults and counts (`-admin`).
//! - [`metrics`]: process-wide counters and their Prometheus exposition.
//! - [`transport`]: stdio, legacy SSE and Streamable HTTP; shared HTTP plumbing.
//! - [`shutdown`]: SIGINT and SIGTERM handling.
//! - [`probe`]: the `-healthcheck` self-probe.
//!
//! Data flows one way: bytes → transport → `jsonrpc` → `dispatch` → `catalog`/`payload` →
//! transport → bytes.

pub mod admin;
pub mod auth;
pub mod catalog;
pub mod churn;
pub mod cli;
pub mod dispatch;
pub mod faults;
pub mod fixtures;
pub mod json;
pub mod jsonrpc;
pub mod mcp;
pub mod metrics;
pub mod payload;
pub mod probe;
pub mod realism;
pub mod roundtrip;
pub mod session;
pub mod shutdown;
pub mod transport;

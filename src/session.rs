//! Streamable HTTP sessions: issuing ids, finding them again, limits and idle eviction.
//!
//! Three modes (`-session-mode`):
//! - `memory`: sessions live in this process. Unknown or deleted ids get 404, as the spec
//!   requires; at `-max-sessions` the least recently used session is evicted, and sessions idle
//!   for `-session-idle-timeout` are swept. This is the default: it is what the spec describes
//!   and what clients and the conformance suite expect of a single server.
//! - `signed`: the id carries its own proof (HMAC-SHA256 under `-session-secret`) and the
//!   negotiated protocol version, so every replica sharing the secret accepts it without shared
//!   storage. A DELETE revokes the id on the replica that received it (a bounded list).
//! - `stateless`: no ids at all; handled by the transport, never stored here.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::auth::constant_time_eq;
use crate::cli::SessionMode;
use crate::dispatch::Session;
use crate::mcp::ProtocolVersion;

/// Most ids remembered as revoked in signed mode.
const MAX_REVOKED: usize = 100_000;
/// Most server-to-client (GET) streams per session.
pub const MAX_STREAMS_PER_SESSION: usize = 8;

/// One live session.
#[derive(Debug)]
pub struct SessionEntry {
    pub state: Mutex<Session>,
    /// Milliseconds since the store was created, at the last request.
    last_used: AtomicU64,
    /// Senders of the session's open GET streams; dropping them ends the streams.
    streams: Mutex<Vec<mpsc::Sender<Bytes>>>,
}

impl SessionEntry {
    fn new(state: Session, now: u64) -> Self {
        Self {
            state: Mutex::new(state),
            last_used: AtomicU64::new(now),
            streams: Mutex::new(Vec::new()),
        }
    }

    pub fn state(&self) -> MutexGuard<'_, Session> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a GET stream; `false` when the session has too many.
    pub fn add_stream(&self, tx: mpsc::Sender<Bytes>) -> bool {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams.retain(|s| !s.is_closed());
        if streams.len() >= MAX_STREAMS_PER_SESSION {
            return false;
        }
        streams.push(tx);
        true
    }
}

/// A session found by id.
#[derive(Debug, Clone)]
pub enum Found {
    Stored(Arc<SessionEntry>),
    /// A valid signed id: its state is rebuilt from the id itself.
    Signed(Session),
}

/// The session table of one server instance.
pub struct SessionStore {
    mode: SessionMode,
    max_sessions: usize,
    idle_timeout: Duration,
    secret: Vec<u8>,
    epoch: Instant,
    sessions: Mutex<HashMap<String, Arc<SessionEntry>>>,
    revoked: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl SessionStore {
    /// `secret` is used in signed mode; without one, a random key is drawn (ids then only
    /// validate on this process).
    pub fn new(
        mode: SessionMode,
        max_sessions: usize,
        idle_timeout: Duration,
        secret: Option<&str>,
    ) -> Self {
        let secret = match secret {
            Some(s) => s.as_bytes().to_vec(),
            None => random_bytes::<32>().to_vec(),
        };
        Self {
            mode,
            max_sessions,
            idle_timeout,
            secret,
            epoch: Instant::now(),
            sessions: Mutex::new(HashMap::new()),
            revoked: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    pub fn mode(&self) -> SessionMode {
        self.mode
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn table(&self) -> MutexGuard<'_, HashMap<String, Arc<SessionEntry>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of stored sessions.
    pub fn len(&self) -> usize {
        self.table().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts a session with the state `initialize` produced; returns its id.
    pub fn create(&self, state: Session) -> String {
        match self.mode {
            SessionMode::Signed => self.sign(state.protocol.unwrap_or(ProtocolVersion::LATEST)),
            SessionMode::Memory | SessionMode::Stateless => {
                let id = new_session_id();
                let now = self.now_ms();
                let mut table = self.table();
                if table.len() >= self.max_sessions {
                    let oldest = table
                        .iter()
                        .min_by_key(|(_, e)| e.last_used.load(Ordering::Relaxed))
                        .map(|(k, _)| k.clone());
                    if let Some(oldest) = oldest {
                        log::debug!(
                            "session limit reached: evicting the least recently used session"
                        );
                        table.remove(&oldest);
                    }
                }
                table.insert(id.clone(), Arc::new(SessionEntry::new(state, now)));
                id
            }
        }
    }

    /// Finds the session `id`, marking it used.
    pub fn get(&self, id: &str) -> Option<Found> {
        match self.mode {
            SessionMode::Signed => self.verify(id).map(Found::Signed),
            SessionMode::Memory | SessionMode::Stateless => {
                let entry = self.table().get(id).cloned()?;
                entry.last_used.store(self.now_ms(), Ordering::Relaxed);
                Some(Found::Stored(entry))
            }
        }
    }

    /// Ends session `id`; `false` if there was none.
    pub fn remove(&self, id: &str) -> bool {
        match self.mode {
            SessionMode::Signed => {
                if self.verify(id).is_none() {
                    return false;
                }
                let mut revoked = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
                let (set, order) = &mut *revoked;
                if set.insert(id.to_string()) {
                    order.push_back(id.to_string());
                    if order.len() > MAX_REVOKED
                        && let Some(old) = order.pop_front()
                    {
                        set.remove(&old);
                    }
                }
                true
            }
            SessionMode::Memory | SessionMode::Stateless => self.table().remove(id).is_some(),
        }
    }

    /// Drops sessions idle for longer than the timeout; returns how many.
    pub fn sweep(&self) -> usize {
        let limit = self.idle_timeout.as_millis() as u64;
        let now = self.now_ms();
        let mut table = self.table();
        let before = table.len();
        table.retain(|_, e| now.saturating_sub(e.last_used.load(Ordering::Relaxed)) <= limit);
        before - table.len()
    }

    /// Drops every session (at shutdown), which also ends their GET streams.
    pub fn clear(&self) {
        self.table().clear();
    }

    /// How often `sweep` should run.
    pub fn sweep_interval(&self) -> Duration {
        (self.idle_timeout / 2).clamp(Duration::from_millis(100), Duration::from_secs(60))
    }

    fn mac(&self, body: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(body.as_bytes());
        hex(&mac.finalize().into_bytes()[..16])
    }

    /// `v1.<nonce>.<version>.<mac>`: all visible ASCII.
    fn sign(&self, version: ProtocolVersion) -> String {
        let body = format!("v1.{}.{}", hex(&random_bytes::<16>()), version.as_str());
        let mac = self.mac(&body);
        format!("{body}.{mac}")
    }

    fn verify(&self, id: &str) -> Option<Session> {
        let (body, mac) = id.rsplit_once('.')?;
        if !constant_time_eq(self.mac(body).as_bytes(), mac.as_bytes()) {
            return None;
        }
        let version = ProtocolVersion::parse(body.rsplit_once('.')?.1)?;
        let revoked = self.revoked.lock().unwrap_or_else(|e| e.into_inner());
        if revoked.0.contains(id) {
            return None;
        }
        Some(Session {
            protocol: Some(version),
            log_level: None,
            initialized: true,
            ..Session::default()
        })
    }
}

/// A fresh random session id: 32 hex digits (128 bits from the OS).
pub fn new_session_id() -> String {
    hex(&random_bytes::<16>())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if getrandom::fill(&mut buf).is_err() {
        // No OS randomness is a broken host; refuse to issue guessable ids.
        panic!("the operating system's random number generator is unavailable");
    }
    buf
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn initialized(v: ProtocolVersion) -> Session {
        Session {
            protocol: Some(v),
            log_level: None,
            initialized: false,
            ..Session::default()
        }
    }

    #[test]
    fn memory_sessions_live_until_deleted() {
        let store = SessionStore::new(SessionMode::Memory, 10, Duration::from_secs(60), None);
        let id = store.create(initialized(ProtocolVersion::V2025_06_18));
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert!(matches!(store.get(&id), Some(Found::Stored(_))));
        assert!(store.get("nope").is_none());
        assert!(store.remove(&id));
        assert!(store.get(&id).is_none());
        assert!(!store.remove(&id));
    }

    #[test]
    fn ids_are_unique() {
        let store = SessionStore::new(SessionMode::Memory, 10_000, Duration::from_secs(60), None);
        let ids: HashSet<String> = (0..1000)
            .map(|_| store.create(Session::default()))
            .collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn the_least_recently_used_session_is_evicted_at_the_limit() {
        let store = SessionStore::new(SessionMode::Memory, 2, Duration::from_secs(60), None);
        let a = store.create(Session::default());
        std::thread::sleep(Duration::from_millis(5));
        let b = store.create(Session::default());
        std::thread::sleep(Duration::from_millis(5));
        assert!(store.get(&a).is_some()); // a is now the most recent
        std::thread::sleep(Duration::from_millis(5));
        let c = store.create(Session::default());
        assert_eq!(store.len(), 2);
        assert!(store.get(&a).is_some());
        assert!(store.get(&b).is_none());
        assert!(store.get(&c).is_some());
    }

    #[test]
    fn idle_sessions_are_swept() {
        let store = SessionStore::new(SessionMode::Memory, 10, Duration::from_millis(20), None);
        let a = store.create(Session::default());
        std::thread::sleep(Duration::from_millis(60));
        let b = store.create(Session::default());
        assert_eq!(store.sweep(), 1);
        assert!(store.get(&a).is_none());
        assert!(store.get(&b).is_some());
    }

    #[test]
    fn signed_ids_validate_on_any_replica_with_the_secret() {
        let one = SessionStore::new(SessionMode::Signed, 10, Duration::from_secs(60), Some("k"));
        let two = SessionStore::new(SessionMode::Signed, 10, Duration::from_secs(60), Some("k"));
        let other = SessionStore::new(SessionMode::Signed, 10, Duration::from_secs(60), Some("x"));
        let id = one.create(initialized(ProtocolVersion::V2025_03_26));
        assert!(id.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        match two.get(&id) {
            Some(Found::Signed(s)) => assert_eq!(s.protocol, Some(ProtocolVersion::V2025_03_26)),
            other => panic!("{other:?}"),
        }
        assert!(other.get(&id).is_none());
        let mut forged = id.clone();
        forged.replace_range(3..4, if &id[3..4] == "a" { "b" } else { "a" });
        assert!(two.get(&forged).is_none());
        assert!(two.get("v1.x.2025-03-26.00").is_none());
        assert!(two.remove(&id));
        assert!(two.get(&id).is_none());
        assert!(one.get(&id).is_some(), "revocation is local to the replica");
    }

    #[test]
    fn stream_count_per_session_is_bounded() {
        let entry = SessionEntry::new(Session::default(), 0);
        let mut keep = Vec::new();
        for _ in 0..MAX_STREAMS_PER_SESSION {
            let (tx, rx) = mpsc::channel(1);
            keep.push(rx);
            assert!(entry.add_stream(tx));
        }
        let (tx, _rx) = mpsc::channel(1);
        assert!(!entry.add_stream(tx));
        keep.pop();
        let (tx, _rx2) = mpsc::channel(1);
        assert!(entry.add_stream(tx), "a closed stream frees its slot");
    }
}

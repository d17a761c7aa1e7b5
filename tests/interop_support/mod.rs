//! Running the official MCP SDK clients against the server binary.
//!
//! The clients live in `tests/interop/`: `python/client.py` (PyPI package `mcp`, pinned in
//! `python/requirements.txt`; both eras), `node/client.mjs` (npm package
//! `@modelcontextprotocol/sdk` 1.x; handshake era only) and `node/client_v2.mjs` (npm package
//! `@modelcontextprotocol/client`, the v2 SDK; both eras), the npm ones pinned in
//! `node/package.json` + `node/package-lock.json`. Their dependencies are installed on first
//! use under `<workspace>/target/interop/`:
//!
//! - `venv/`: a Python virtual environment with the pinned requirements;
//! - `node/`: a copy of the npm manifest and lock file, `npm ci`'d, plus copies of the
//!   scripts (Node resolves packages next to the script, so they run from there).
//!
//! Each install is skipped when its stamp file holds the hash of the pin files it was made
//! from, and is serialized across test processes by a file lock. A failed install fails the
//! test with the installer's output: the tests never skip.
//!
//! Over stdio the client spawns the server itself. Over HTTP, [`HttpServer`] starts the binary
//! on loopback with `-port=0`, learns the bound port from its `listening on http://…` line and
//! kills it when dropped; [`HttpServer::run_client`] then points a client at it, and
//! [`HttpServer::run_refused_client`] runs one that must fail authentication.
//! [`Connection::Alternating`] gives a client several servers to send its HTTP requests to
//! in turn.

#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{Server, command};
use crate::tooling::{lock, read_text, run_bounded, stamp_text, tail};

/// Upper bound for one installer command (venv creation, `pip install`, `npm ci`).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// The client scripts stop themselves after this long.
const CLIENT_TIMEOUT_SECS: u64 = 60;

/// A client that must be refused stops itself after this long (it should fail at once).
const REFUSED_TIMEOUT_SECS: u64 = 15;

/// Upper bound for a client that must be refused; being killed here also counts as a failure.
const REFUSED_KILL_AFTER: Duration = Duration::from_secs(REFUSED_TIMEOUT_SECS + 15);

/// Upper bound for connecting to and reading from a server directly (the `/health` probe).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Bumped when the install layout changes, so old installs are redone.
const LAYOUT_VERSION: &str = "interop-install-v1";

/// The npm client scripts copied next to `node_modules/`.
const NODE_SCRIPTS: &[&str] = &["checks.mjs", "client.mjs", "client_v2.mjs"];

/// The stateless protocol revision.
pub const MODERN: &str = "2026-07-28";

/// The handshake-era revision every pinned SDK asks for.
pub const HANDSHAKE: &str = "2025-11-25";

/// Which official SDK drives the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sdk {
    /// PyPI `mcp` 2.x: `ClientSession` (handshake era) or `Client` in `mode="auto"`.
    Python,
    /// npm `@modelcontextprotocol/sdk` 1.x: handshake era only.
    TypeScript,
    /// npm `@modelcontextprotocol/client` (v2): legacy mode, or `versionNegotiation: auto`.
    TypeScriptV2,
}

impl Sdk {
    fn name(self) -> &'static str {
        match self {
            Sdk::Python => "python",
            Sdk::TypeScript => "typescript",
            Sdk::TypeScriptV2 => "typescript-v2",
        }
    }

    /// Whether the script tells the probe `server/discover` on the pipe it is given: the v2
    /// TypeScript SDK probes a stdio server on a short-lived sibling process instead.
    fn probes_in_place(self, connection: &Connection<'_>) -> bool {
        !(self == Sdk::TypeScriptV2 && matches!(connection, Connection::Stdio { .. }))
    }

    /// The SDK version the pin files ask for.
    pub fn pinned_version(self) -> String {
        match self {
            Sdk::Python => {
                let reqs = read_text(&interop_dir().join("python/requirements.txt"));
                reqs.lines()
                    .find_map(|l| l.trim().strip_prefix("mcp=="))
                    .map(|v| v.trim().to_string())
                    .expect("python/requirements.txt pins mcp with `mcp==<version>`")
            }
            Sdk::TypeScript | Sdk::TypeScriptV2 => {
                let package = match self {
                    Sdk::TypeScript => "@modelcontextprotocol/sdk",
                    _ => "@modelcontextprotocol/client",
                };
                let manifest = read_text(&interop_dir().join("node/package.json"));
                let manifest: Value =
                    serde_json::from_str(&manifest).expect("node/package.json is valid JSON");
                manifest["dependencies"][package]
                    .as_str()
                    .unwrap_or_else(|| panic!("node/package.json depends on {package}"))
                    .to_string()
            }
        }
    }
}

/// The caching hints a 2026-07-28 client must find on the server's results.
#[derive(Debug, Clone, Copy)]
pub struct Hints {
    /// `ttlMs` of list results and `server/discover` (`-list-ttl`).
    pub list_ttl_ms: u64,
    /// `ttlMs` of `resources/read` (`-read-ttl`).
    pub read_ttl_ms: u64,
    /// `cacheScope` of all of them (`-cache-scope`).
    pub cache_scope: &'static str,
}

impl Hints {
    /// The server's defaults: `-list-ttl=5m -read-ttl=0s -cache-scope=public`.
    pub const DEFAULT: Hints = Hints {
        list_ttl_ms: 300_000,
        read_ttl_ms: 0,
        cache_scope: "public",
    };
}

/// Which protocol era the client is made to speak.
#[derive(Debug, Clone, Copy)]
pub enum Era {
    /// `initialize` first; the client must end up on 2025-11-25.
    Handshake,
    /// The SDK probes `server/discover` and must end up on 2026-07-28, finding these hints.
    Modern(Hints),
}

impl Era {
    fn flag(self) -> &'static str {
        match self {
            Era::Handshake => "handshake",
            Era::Modern(_) => "modern",
        }
    }
}

/// The HTTP transports a client can reach a listening server over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpTransport {
    /// Streamable HTTP: every message is a `POST /mcp`.
    Streamable,
    /// The legacy HTTP+SSE transport: `GET /sse` for the stream, `POST /messages` to send.
    Sse,
}

impl HttpTransport {
    /// The value of the server's `-transport` flag and of the scripts' `--transport`.
    pub fn flag(self) -> &'static str {
        match self {
            HttpTransport::Streamable => "http",
            HttpTransport::Sse => "sse",
        }
    }

    /// The path the client is given: the MCP endpoint, or the event stream to open.
    pub fn path(self) -> &'static str {
        match self {
            HttpTransport::Streamable => "/mcp",
            HttpTransport::Sse => "/sse",
        }
    }

    /// The request the client makes first, as the server logs it (`POST /mcp`, `GET /sse`).
    fn first_request(self) -> &'static str {
        match self {
            HttpTransport::Streamable => "POST /mcp",
            HttpTransport::Sse => "GET /sse",
        }
    }
}

/// How the client reaches the server.
#[derive(Debug, Clone, Copy)]
pub enum Connection<'a> {
    /// The client spawns the server binary with these arguments and talks over its stdio.
    Stdio { server_args: &'a [&'a str] },
    /// The client connects to a server already listening at `url`, sending
    /// `Authorization: Bearer <token>` when `token` is set.
    Http {
        transport: HttpTransport,
        url: &'a str,
        token: Option<&'a str>,
    },
    /// Streamable HTTP to several listening servers: each HTTP request goes to the next of
    /// `urls` in turn, as a round-robin balancer in front of replicas would send it.
    Alternating { urls: &'a [String] },
}

impl Connection<'_> {
    fn script_args(&self) -> Vec<String> {
        match self {
            Connection::Stdio { server_args } => {
                let mut args = vec![
                    "--transport".to_string(),
                    "stdio".to_string(),
                    "--server".to_string(),
                    env!("CARGO_BIN_EXE_benchmark-server").to_string(),
                    // Must come last: everything after it goes to the server.
                    "--server-args".to_string(),
                ];
                args.extend(server_args.iter().map(|a| a.to_string()));
                args
            }
            Connection::Http {
                transport,
                url,
                token,
            } => {
                let mut args = vec![
                    "--transport".to_string(),
                    transport.flag().to_string(),
                    "--url".to_string(),
                    url.to_string(),
                ];
                if let Some(token) = token {
                    args.extend(["--token".to_string(), token.to_string()]);
                }
                args
            }
            Connection::Alternating { urls } => {
                let mut args = vec!["--transport".to_string(), "http".to_string()];
                for url in urls.iter() {
                    args.extend(["--url".to_string(), url.clone()]);
                }
                args
            }
        }
    }

    fn transport(&self) -> &'static str {
        match self {
            Connection::Stdio { .. } => "stdio",
            Connection::Http { transport, .. } => transport.flag(),
            Connection::Alternating { .. } => "http",
        }
    }

    fn describe(&self) -> String {
        match self {
            Connection::Stdio { .. } => "stdio".to_string(),
            Connection::Http {
                transport,
                url,
                token,
            } => {
                let token = match token {
                    Some(t) => format!("token {t:?}"),
                    None => "no token".to_string(),
                };
                format!("{} at {url} ({token})", transport.flag())
            }
            Connection::Alternating { urls } => format!("http alternating over {urls:?}"),
        }
    }
}

/// What the client must find on the server.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    pub tools: u64,
    pub resources: u64,
    pub prompts: u64,
    pub tool_size: u64,
    pub resource_size: u64,
    /// Pages the tool, resource and prompt listings take.
    pub pages: [u64; 3],
}

/// Runs `sdk`'s client script in `era` against the server and checks its summary; returns
/// the summary.
pub fn run_client(sdk: Sdk, era: Era, connection: Connection<'_>, expect: Expect) -> Value {
    run_client_reporting(sdk, era, connection, expect, String::new)
}

/// [`run_client`], adding `context()` (the server's log, say) to every failure message.
pub fn run_client_reporting(
    sdk: Sdk,
    era: Era,
    connection: Connection<'_>,
    expect: Expect,
    context: impl Fn() -> String,
) -> Value {
    run_client_within(sdk, era, connection, expect, CLIENT_TIMEOUT_SECS, context)
}

/// [`run_client_reporting`] with the script's own time limit set to `timeout_secs` (the
/// client is killed 30 s after that).
pub fn run_client_within(
    sdk: Sdk,
    era: Era,
    connection: Connection<'_>,
    expect: Expect,
    timeout_secs: u64,
    context: impl Fn() -> String,
) -> Value {
    let mut cmd = client_command(sdk, era, connection, expect, timeout_secs);
    let what = format!(
        "{} client ({} era) over {}",
        sdk.name(),
        era.flag(),
        connection.describe()
    );
    let out = run_bounded(&mut cmd, Duration::from_secs(timeout_secs + 30))
        .unwrap_or_else(|e| panic!("{what}: {e}{}", context()));
    assert!(
        out.status.success(),
        "{what} failed ({}) after {:.1} s\n--- stdout ---\n{}\n--- stderr ---\n{}{}",
        out.status,
        out.elapsed.as_secs_f64(),
        out.stdout,
        tail(&out.stderr, 8000),
        context(),
    );
    let line = out
        .stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{what} printed no summary\nstderr:\n{}{}",
                out.stderr,
                context()
            )
        });
    let summary: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{what}: summary is not JSON ({e}): {line}{}", context()));
    check_summary(sdk, era, connection, expect, &summary);
    summary
}

/// The command that runs `sdk`'s client script with these checks and time limit (seconds).
fn client_command(
    sdk: Sdk,
    era: Era,
    connection: Connection<'_>,
    expect: Expect,
    timeout_secs: u64,
) -> Command {
    let mut cmd = match sdk {
        Sdk::Python => {
            let python = python_env();
            let mut c = Command::new(python);
            c.arg(interop_dir().join("python/client.py"));
            c
        }
        Sdk::TypeScript => {
            assert!(
                matches!(era, Era::Handshake),
                "@modelcontextprotocol/sdk 1.x speaks the handshake era only"
            );
            let dir = node_env();
            let mut c = Command::new("node");
            c.arg(dir.join("client.mjs"));
            c
        }
        Sdk::TypeScriptV2 => {
            let dir = node_env();
            let mut c = Command::new("node");
            c.arg(dir.join("client_v2.mjs"));
            c
        }
    };
    if sdk != Sdk::TypeScript {
        cmd.args(["--era", era.flag()]);
    }
    if let Era::Modern(hints) = era {
        cmd.args(["--expect-list-ttl-ms", &hints.list_ttl_ms.to_string()])
            .args(["--expect-read-ttl-ms", &hints.read_ttl_ms.to_string()])
            .args(["--expect-cache-scope", hints.cache_scope]);
    }
    cmd.args(["--expect-tools", &expect.tools.to_string()])
        .args(["--expect-resources", &expect.resources.to_string()])
        .args(["--expect-prompts", &expect.prompts.to_string()])
        .args(["--expect-tool-size", &expect.tool_size.to_string()])
        .args(["--expect-resource-size", &expect.resource_size.to_string()])
        .args(["--timeout", &timeout_secs.to_string()])
        .args(connection.script_args());
    if !matches!(connection, Connection::Stdio { .. }) {
        // A proxy configured in the environment must not sit between the client and loopback.
        cmd.env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
    }
    cmd
}

/// A server binary listening on 127.0.0.1 with an HTTP transport. Dropping it kills it.
pub struct HttpServer {
    server: Server,
    transport: HttpTransport,
    /// `http://127.0.0.1:PORT`, from the `listening on` line.
    base_url: String,
    /// `base_url` plus the transport's path: what the client is given.
    url: String,
}

impl HttpServer {
    /// Starts the binary with `-transport=<transport> -listen=127.0.0.1 -port=0` and `args`, and
    /// waits (bounded) until it prints the address it listens on.
    pub fn start(transport: HttpTransport, args: &[&str]) -> Self {
        let mut cmd = command(
            [
                format!("-transport={}", transport.flag()),
                "-listen=127.0.0.1".to_string(),
                "-port=0".to_string(),
            ]
            .into_iter()
            .chain(args.iter().map(|a| a.to_string())),
        );
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        let mut server = Server::start(cmd);
        const MARK: &str = "listening on ";
        let line = server.wait_for_stderr_line(|l| l.contains("listening on http://"));
        let at = line.find(MARK).expect("the line has the mark") + MARK.len();
        let base_url = line[at..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
        let port = base_url
            .strip_prefix("http://127.0.0.1:")
            .and_then(|p| p.parse::<u16>().ok());
        assert!(
            port.is_some_and(|p| p != 0),
            "unexpected listening line: {line}"
        );
        let url = format!("{base_url}{}", transport.path());
        HttpServer {
            server,
            transport,
            base_url,
            url,
        }
    }

    /// The URL the client is given (`…/mcp` or `…/sse`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.server.stderr()
    }

    fn connection<'a>(&'a self, token: Option<&'a str>) -> Connection<'a> {
        Connection::Http {
            transport: self.transport,
            url: &self.url,
            token,
        }
    }

    /// The server's log, for failure messages.
    fn log_section(&self) -> String {
        format!("\n--- server stderr ---\n{}", tail(&self.stderr(), 8000))
    }

    /// Runs `sdk`'s client script in `era` against this server (sending `token` when set),
    /// checks its summary, then checks the server is still sound (see [`Self::assert_sound`]).
    pub fn run_client(&mut self, sdk: Sdk, era: Era, token: Option<&str>, expect: Expect) -> Value {
        let summary = self.run_client_shared(sdk, era, token, expect);
        self.assert_sound();
        summary
    }

    /// [`Self::run_client`] without the soundness check, so several clients can run against
    /// one server at the same time (call [`Self::assert_sound`] when they are done).
    pub fn run_client_shared(
        &self,
        sdk: Sdk,
        era: Era,
        token: Option<&str>,
        expect: Expect,
    ) -> Value {
        run_client_reporting(sdk, era, self.connection(token), expect, || {
            self.log_section()
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Runs `sdk`'s client script sending `token` (or none) to this server, which requires a
    /// different one, and asserts that the client fails: it exits non-zero, or does not finish
    /// in time and is killed. Also asserts that the server refused the client's first request
    /// for the right reason (from its debug log, so the server must run with
    /// `-log-level=debug`), that it let no request through, and that it is still sound.
    /// Returns how the client ended, for the test's output.
    pub fn run_refused_client(&mut self, sdk: Sdk, token: Option<&str>) -> String {
        let connection = self.connection(token);
        let what = format!("{} client over {}", sdk.name(), connection.describe());
        let expect = Expect {
            tools: 100,
            resources: 100,
            prompts: 100,
            tool_size: 1000,
            resource_size: 1000,
            pages: [1, 1, 1],
        };
        let log_before = self.stderr().len();
        let mut cmd = client_command(
            sdk,
            Era::Handshake,
            connection,
            expect,
            REFUSED_TIMEOUT_SECS,
        );
        let ended = match run_bounded(&mut cmd, REFUSED_KILL_AFTER) {
            Ok(out) => {
                assert!(
                    !out.status.success(),
                    "{what} succeeded without the right token\n--- stdout ---\n{}\n--- stderr ---\n{}{}",
                    out.stdout,
                    tail(&out.stderr, 8000),
                    self.log_section(),
                );
                assert!(
                    out.stderr.contains("interop FAILED"),
                    "{what} did not fail through its own error path ({})\n--- stderr ---\n{}",
                    out.status,
                    tail(&out.stderr, 8000),
                );
                let reason = out
                    .stderr
                    .lines()
                    .find(|l| l.contains("interop FAILED"))
                    .unwrap_or_default()
                    .to_string();
                format!(
                    "exited with {} after {:.1} s: {reason}",
                    out.status,
                    out.elapsed.as_secs_f64()
                )
            }
            Err(e) if e.contains("was killed after") => format!("killed: {}", tail(&e, 2000)),
            Err(e) => panic!("{what}: {e}"),
        };
        let log = self.stderr();
        let log = &log[log_before.min(log.len())..];
        let failure = if token.is_some() {
            "WrongToken"
        } else {
            "MissingHeader"
        };
        let refused = format!(
            "authentication failed ({failure}) for {}",
            self.transport.first_request()
        );
        assert!(
            log.lines().any(|l| l.ends_with(&refused)),
            "{what}: the server did not log {refused:?} (client {ended}){}",
            self.log_section()
        );
        assert!(
            !log.contains("authenticated request"),
            "{what}: the server let a request through (client {ended}){}",
            self.log_section()
        );
        self.assert_sound();
        ended
    }

    /// Asserts the server is still running, logged no panic and no error, and answers
    /// `GET /health` with 200.
    pub fn assert_sound(&mut self) {
        if let Some(status) = self.server.try_status() {
            panic!("the server exited ({status}){}", self.log_section());
        }
        let log = self.stderr();
        for bad in ["panicked", " ERROR "] {
            assert!(
                !log.contains(bad),
                "the server logged {bad:?}{}",
                self.log_section()
            );
        }
        let status = self
            .health_status()
            .unwrap_or_else(|e| panic!("GET /health: {e}{}", self.log_section()));
        assert_eq!(status, 200, "GET /health{}", self.log_section());
    }

    /// The status code of `GET /health` on a fresh connection.
    fn health_status(&self) -> Result<u16, String> {
        let addr = self
            .base_url
            .strip_prefix("http://")
            .expect("the base URL is http://");
        let addr = addr
            .parse()
            .map_err(|e| format!("bad address {addr:?}: {e}"))?;
        let mut conn = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
            .map_err(|e| format!("connect {addr}: {e}"))?;
        conn.set_read_timeout(Some(PROBE_TIMEOUT))
            .and_then(|()| conn.set_write_timeout(Some(PROBE_TIMEOUT)))
            .map_err(|e| e.to_string())?;
        conn.write_all(
            format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .map_err(|e| format!("write: {e}"))?;
        let mut reply = Vec::new();
        conn.read_to_end(&mut reply)
            .map_err(|e| format!("read: {e}"))?;
        let reply = String::from_utf8_lossy(&reply);
        let status_line = reply.lines().next().unwrap_or_default();
        status_line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("no status in {:?}", tail(&reply, 500)))
    }
}

fn check_summary(sdk: Sdk, era: Era, connection: Connection<'_>, expect: Expect, summary: &Value) {
    let field = |name: &str| -> &Value {
        summary
            .get(name)
            .unwrap_or_else(|| panic!("summary has no {name:?}: {summary}"))
    };
    let number = |name: &str| -> u64 {
        field(name)
            .as_u64()
            .unwrap_or_else(|| panic!("summary field {name:?} is not a count: {summary}"))
    };
    assert_eq!(field("ok"), &Value::Bool(true), "{summary}");
    assert_eq!(field("sdk").as_str(), Some(sdk.name()), "{summary}");
    assert_eq!(
        field("sdk_version").as_str(),
        Some(sdk.pinned_version().as_str()),
        "the installed SDK is not the pinned one: {summary}"
    );
    assert_eq!(
        field("transport").as_str(),
        Some(connection.transport()),
        "{summary}"
    );
    match era {
        Era::Handshake => {
            assert_eq!(
                field("protocol_version").as_str(),
                Some(HANDSHAKE),
                "the pinned SDKs' handshake asks for {HANDSHAKE}, which the server speaks: {summary}"
            );
            if sdk != Sdk::TypeScript {
                assert_eq!(field("era").as_str(), Some("handshake"), "{summary}");
            }
        }
        Era::Modern(hints) => {
            assert_eq!(field("era").as_str(), Some("modern"), "{summary}");
            assert_eq!(
                field("protocol_version").as_str(),
                Some(MODERN),
                "the SDK must adopt {MODERN} from server/discover: {summary}"
            );
            let first = field("first_request").as_str();
            if sdk.probes_in_place(&connection) {
                assert_eq!(first, Some("server/discover"), "{summary}");
            } else {
                assert_ne!(first, Some("initialize"), "{summary}");
            }
            assert_eq!(number("list_ttl_ms"), hints.list_ttl_ms, "{summary}");
            assert_eq!(
                field("cache_scope").as_str(),
                Some(hints.cache_scope),
                "{summary}"
            );
            assert_eq!(
                field("tools_list_cache_hit").as_bool(),
                Some(hints.list_ttl_ms > 0),
                "a repeated tools/list is served from the SDK's cache exactly when ttlMs > 0: {summary}"
            );
            assert_eq!(
                field("listen_acknowledged").as_bool(),
                Some(true),
                "subscriptions/listen is acknowledged: {summary}"
            );
        }
    }
    assert_eq!(number("tools"), expect.tools, "{summary}");
    assert_eq!(number("resources"), expect.resources, "{summary}");
    assert_eq!(number("prompts"), expect.prompts, "{summary}");
    assert_eq!(number("tool_data_bytes"), expect.tool_size, "{summary}");
    assert_eq!(
        number("resource_data_bytes"),
        expect.resource_size,
        "{summary}"
    );
    assert_eq!(
        [
            number("tool_pages"),
            number("resource_pages"),
            number("prompt_pages")
        ],
        expect.pages,
        "pages of tools, resources, prompts: {summary}"
    );
    assert_eq!(
        field("unknown_tool_error")["code"].as_i64(),
        Some(-32602),
        "{summary}"
    );
}

/// `tests/interop/` in the source tree.
fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// `target/interop/` in the workspace (not the cargo target dir, which may be elsewhere).
fn install_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop")
}

/// The virtual environment's interpreter, installing the environment first if needed.
pub fn python_env() -> &'static Path {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match PYTHON.get_or_init(install_python) {
        Ok(p) => p,
        Err(e) => panic!("installing the Python MCP SDK failed: {e}"),
    }
}

/// The directory holding `node_modules/` and `client.mjs`, installing it first if needed.
pub fn node_env() -> &'static Path {
    static NODE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match NODE.get_or_init(install_node) {
        Ok(p) => p,
        Err(e) => panic!("installing the TypeScript MCP SDK failed: {e}"),
    }
}

fn install_python() -> Result<PathBuf, String> {
    let root = install_root();
    let _lock = lock(&root, "python.lock")?;
    let requirements = interop_dir().join("python/requirements.txt");
    let pins = fs::read(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let venv = root.join("venv");
    let python = if cfg!(windows) {
        venv.join("Scripts/python.exe")
    } else {
        venv.join("bin/python")
    };
    let base = std::env::var("INTEROP_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let stamp = venv.join(".interop-stamp");
    let want = stamp_text(LAYOUT_VERSION, &[b"python", base.as_bytes(), &pins]);
    if python.exists() && fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return Ok(python);
    }
    let started = Instant::now();
    if venv.exists() {
        fs::remove_dir_all(&venv).map_err(|e| format!("removing {}: {e}", venv.display()))?;
    }
    run_install(
        Command::new(&base).args(["-m", "venv"]).arg(&venv),
        &format!("{base} -m venv (Python 3.10 or newer with the venv module is required)"),
    )?;
    run_install(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                "-r",
            ])
            .arg(&requirements),
        "pip install -r tests/interop/python/requirements.txt",
    )?;
    run_install(
        Command::new(&python).args(["-c", "import mcp.client.stdio, mcp.client.sse"]),
        "importing the installed mcp package",
    )?;
    fs::write(&stamp, &want).map_err(|e| format!("{}: {e}", stamp.display()))?;
    eprintln!(
        "interop: installed the Python MCP SDK into {} in {:.1} s",
        venv.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(python)
}

fn install_node() -> Result<PathBuf, String> {
    let root = install_root();
    let _lock = lock(&root, "node.lock")?;
    let source = interop_dir().join("node");
    let dir = root.join("node");
    let read = |name: &str| {
        let p = source.join(name);
        fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
    };
    let manifest = read("package.json")?;
    let lockfile = read("package-lock.json")?;
    let stamp = dir.join(".interop-stamp");
    let want = stamp_text(LAYOUT_VERSION, &[b"node", &manifest, &lockfile]);
    let installed = ["sdk", "client"].iter().all(|p| {
        dir.join(format!(
            "node_modules/@modelcontextprotocol/{p}/package.json"
        ))
        .exists()
    });
    if !(installed && fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str())) {
        let started = Instant::now();
        let _ = fs::remove_file(&stamp);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (name, bytes) in [
            ("package.json", &manifest),
            ("package-lock.json", &lockfile),
        ] {
            let p = dir.join(name);
            fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
        run_install(
            Command::new(npm)
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--loglevel=error",
                ])
                .current_dir(&dir),
            "npm ci in target/interop/node (Node.js 18 or newer with npm is required)",
        )?;
        fs::write(&stamp, &want).map_err(|e| format!("{}: {e}", stamp.display()))?;
        eprintln!(
            "interop: installed the TypeScript MCP SDK into {} in {:.1} s",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
    }
    // The scripts run from the install directory; refresh each whenever its source changed
    // (write-then-rename, so a concurrent run never sees half a file).
    for name in NODE_SCRIPTS {
        let script = read(name)?;
        let target = dir.join(name);
        if fs::read(&target).ok().as_deref() != Some(script.as_slice()) {
            let tmp = dir.join(format!("{name}.{}.tmp", std::process::id()));
            fs::write(&tmp, &script).map_err(|e| format!("{}: {e}", tmp.display()))?;
            fs::rename(&tmp, &target).map_err(|e| format!("{}: {e}", target.display()))?;
        }
    }
    Ok(dir)
}

fn run_install(cmd: &mut Command, what: &str) -> Result<(), String> {
    crate::tooling::run_install(cmd, what, INSTALL_TIMEOUT)
}

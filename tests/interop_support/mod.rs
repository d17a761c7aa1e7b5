//! Running the official MCP SDK clients against the server binary.
//!
//! The clients live in `tests/interop/`: `python/client.py` (PyPI package `mcp`, pinned in
//! `python/requirements.txt`) and `node/client.mjs` (npm package `@modelcontextprotocol/sdk`,
//! pinned in `node/package.json` + `node/package-lock.json`). Their dependencies are installed
//! on first use under `<workspace>/target/interop/`:
//!
//! - `venv/`: a Python virtual environment with the pinned requirements;
//! - `node/`: a copy of the npm manifest and lock file, `npm ci`'d, plus a copy of
//!   `client.mjs` (Node resolves packages next to the script, so it runs from there).
//!
//! Each install is skipped when its stamp file holds the hash of the pin files it was made
//! from, and is serialized across test processes by a file lock. A failed install fails the
//! test with the installer's output: the tests never skip.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Upper bound for one installer command (venv creation, `pip install`, `npm ci`).
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);

/// The client scripts stop themselves after this long.
const CLIENT_TIMEOUT_SECS: u64 = 60;

/// Upper bound for one client run, beyond the script's own limit (interpreter start-up).
const CLIENT_KILL_AFTER: Duration = Duration::from_secs(CLIENT_TIMEOUT_SECS + 30);

/// Bumped when the install layout changes, so old installs are redone.
const LAYOUT_VERSION: &str = "interop-install-v1";

/// Which official SDK drives the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sdk {
    Python,
    TypeScript,
}

impl Sdk {
    fn name(self) -> &'static str {
        match self {
            Sdk::Python => "python",
            Sdk::TypeScript => "typescript",
        }
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
            Sdk::TypeScript => {
                let manifest = read_text(&interop_dir().join("node/package.json"));
                let manifest: Value =
                    serde_json::from_str(&manifest).expect("node/package.json is valid JSON");
                manifest["dependencies"]["@modelcontextprotocol/sdk"]
                    .as_str()
                    .expect("node/package.json depends on @modelcontextprotocol/sdk")
                    .to_string()
            }
        }
    }
}

/// How the client reaches the server.
///
/// Only stdio exists today. An HTTP variant passes `--transport sse|http --url <url>` (and
/// `--token <bearer>` when the server requires one) instead of `--server`/`--server-args`;
/// both client scripts already implement those paths.
#[derive(Debug, Clone, Copy)]
pub enum Connection<'a> {
    /// The client spawns the server binary with these arguments and talks over its stdio.
    Stdio { server_args: &'a [&'a str] },
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
        }
    }

    fn transport(&self) -> &'static str {
        match self {
            Connection::Stdio { .. } => "stdio",
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

/// Runs `sdk`'s client script against the server and checks its summary; returns the summary.
pub fn run_client(sdk: Sdk, connection: Connection<'_>, expect: Expect) -> Value {
    let mut cmd = match sdk {
        Sdk::Python => {
            let python = python_env();
            let mut c = Command::new(python);
            c.arg(interop_dir().join("python/client.py"));
            c
        }
        Sdk::TypeScript => {
            let dir = node_env();
            let mut c = Command::new("node");
            c.arg(dir.join("client.mjs"));
            c
        }
    };
    cmd.args(["--expect-tools", &expect.tools.to_string()])
        .args(["--expect-resources", &expect.resources.to_string()])
        .args(["--expect-prompts", &expect.prompts.to_string()])
        .args(["--expect-tool-size", &expect.tool_size.to_string()])
        .args(["--expect-resource-size", &expect.resource_size.to_string()])
        .args(["--timeout", &CLIENT_TIMEOUT_SECS.to_string()])
        .args(connection.script_args());
    let what = format!("{} client over {}", sdk.name(), connection.transport());
    let out = run_bounded(&mut cmd, CLIENT_KILL_AFTER).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}) after {:.1} s\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        out.elapsed.as_secs_f64(),
        out.stdout,
        tail(&out.stderr, 8000),
    );
    let line = out
        .stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| panic!("{what} printed no summary\nstderr:\n{}", out.stderr));
    let summary: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{what}: summary is not JSON ({e}): {line}"));
    check_summary(sdk, connection, expect, &summary);
    summary
}

fn check_summary(sdk: Sdk, connection: Connection<'_>, expect: Expect, summary: &Value) {
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
    assert_eq!(
        field("protocol_version").as_str(),
        Some("2025-11-25"),
        "both pinned SDKs ask for 2025-11-25, which the server speaks: {summary}"
    );
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
    let want = stamp_text(&[b"python", base.as_bytes(), &pins]);
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
    let script = read("client.mjs")?;
    let stamp = dir.join(".interop-stamp");
    let want = stamp_text(&[b"node", &manifest, &lockfile]);
    let installed = dir
        .join("node_modules/@modelcontextprotocol/sdk/package.json")
        .exists();
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
    // The script runs from the install directory; refresh it whenever the source changed
    // (write-then-rename, so a concurrent run never sees half a file).
    let target = dir.join("client.mjs");
    if fs::read(&target).ok().as_deref() != Some(script.as_slice()) {
        let tmp = dir.join(format!("client.mjs.{}.tmp", std::process::id()));
        fs::write(&tmp, &script).map_err(|e| format!("{}: {e}", tmp.display()))?;
        fs::rename(&tmp, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(dir)
}

/// Takes the exclusive lock `root/name`, held until the returned file is dropped.
fn lock(root: &Path, name: &str) -> Result<File, String> {
    fs::create_dir_all(root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let path = root.join(name);
    let file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    file.lock()
        .map_err(|e| format!("locking {}: {e}", path.display()))?;
    Ok(file)
}

fn stamp_text(parts: &[&[u8]]) -> String {
    let mut h = Fnv1a::default();
    h.write(LAYOUT_VERSION.as_bytes());
    for part in parts {
        h.write(&(part.len() as u64).to_le_bytes());
        h.write(part);
    }
    format!("{LAYOUT_VERSION} {:016x}\n", h.0)
}

/// 64-bit FNV-1a: a stable, dependency-free fingerprint of the pin files.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

fn run_install(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = run_bounded(cmd, INSTALL_TIMEOUT).map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}) after {:.1} s\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        out.elapsed.as_secs_f64(),
        tail(&out.stdout, 4000),
        tail(&out.stderr, 8000),
    ))
}

/// What a finished command printed.
struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs `cmd` with no input and captured output; kills it (and everything it started) if it
/// is still running after `timeout`.
fn run_bounded(cmd: &mut Command, timeout: Duration) -> Result<Output, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Its own process group, so a timeout also stops the server the client spawned.
        cmd.process_group(0);
    }
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let stdout = drain(child.stdout.take().expect("stdout is piped"));
    let stderr = drain(child.stderr.take().expect("stderr is piped"));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() >= timeout => break None,
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    let Some(status) = status else {
        kill_tree(&mut child);
        let grace = Duration::from_secs(5);
        return Err(format!(
            "{program} was killed after the {} s limit\n--- stdout ---\n{}\n--- stderr ---\n{}",
            timeout.as_secs(),
            tail(&stdout.recv_timeout(grace).unwrap_or_default(), 4000),
            tail(&stderr.recv_timeout(grace).unwrap_or_default(), 8000),
        ));
    };
    // A grandchild that outlives the child could hold the pipes open: bound the wait.
    let grace = Duration::from_secs(10);
    Ok(Output {
        status,
        stdout: stdout.recv_timeout(grace).unwrap_or_default(),
        stderr: stderr.recv_timeout(grace).unwrap_or_default(),
        elapsed: started.elapsed(),
    })
}

fn kill_tree(child: &mut Child) {
    #[cfg(unix)]
    {
        // The child leads its own process group (see `run_bounded`).
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads `pipe` to its end on a thread; the text arrives on the returned channel.
fn drain(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

/// The last `max` bytes of `text` (on a character boundary).
fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn read_text(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} should be in the source tree: {e}", path.display()))
}

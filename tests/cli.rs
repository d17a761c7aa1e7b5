//! The command line of the real binary: help, version, errors and exit codes, Go flag
//! syntax, and what ends up on stderr.

mod common;

use std::thread;
use std::time::Duration;

use common::{Finished, StdioClient, TIMEOUT, assert_payload, command, run, run_command};
use serde_json::{Value, json};

/// Every flag the usage text must document.
const FLAGS: &[&str] = &[
    "addr",
    "allowed-origins",
    "auth-token",
    "healthcheck",
    "help",
    "instance-id",
    "listen",
    "log-level",
    "max-request-bytes",
    "max-sessions",
    "page-size",
    "payload-size",
    "port",
    "prompt-size",
    "prompts",
    "public-url",
    "resource-size",
    "resources",
    "response-mode",
    "server-count",
    "session-idle-timeout",
    "session-mode",
    "session-secret",
    "shutdown-timeout",
    "sse-keepalive",
    "start-port",
    "tool-size",
    "tools",
    "transport",
    "version",
];

fn assert_usage(text: &str) {
    assert!(
        text.starts_with(&format!(
            "benchmark-server {} - configurable MCP server for benchmarking\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    for flag in FLAGS {
        assert!(
            text.contains(&format!("\n  -{flag}\n")),
            "usage documents -{flag}:\n{text}"
        );
    }
    assert!(text.contains("AUTH_TOKEN"), "{text}");
    assert!(text.contains("(default \"stdio\")"), "{text}");
}

fn assert_exit(f: &Finished, code: i32) {
    assert_eq!(
        f.code(),
        code,
        "stdout:\n{}\nstderr:\n{}",
        f.stdout,
        f.stderr
    );
}

#[test]
fn help_goes_to_stderr_and_exits_zero() {
    let mut texts = Vec::new();
    for flag in ["-help", "-h", "--help", "-help=true", "--h"] {
        let f = run([flag]);
        assert_exit(&f, 0);
        assert_eq!(f.stdout, "", "{flag}: stdout stays empty");
        assert_usage(&f.stderr);
        texts.push(f.stderr);
    }
    assert!(
        texts.windows(2).all(|w| w[0] == w[1]),
        "same usage every way"
    );
    // Help wins, whatever else is on the line.
    let f = run(["-tools=abc", "-help"]);
    assert_exit(&f, 0);
    assert_eq!(f.stderr, texts[0]);
}

#[test]
fn version_prints_the_version_and_exits_zero() {
    for flag in ["-version", "--version"] {
        let f = run([flag]);
        assert_exit(&f, 0);
        assert_eq!(
            f.stdout,
            format!("benchmark-server {}\n", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(f.stderr, "");
    }
}

#[test]
fn an_unknown_flag_exits_2_naming_it_with_usage() {
    for (args, named) in [
        (&["-bogus"][..], "-bogus"),
        (&["--payload-sizes=1"], "-payload-sizes"),
        (&["-tools=3", "-x"], "-x"),
    ] {
        let f = run(args);
        assert_exit(&f, 2);
        assert_eq!(f.stdout, "");
        let first = f.stderr.lines().next().unwrap_or_default();
        assert_eq!(first, format!("flag provided but not defined: {named}"));
        assert_usage(f.stderr.split_once("\n\n").map(|(_, u)| u).unwrap_or(""));
    }
}

#[test]
fn syntax_errors_exit_2() {
    for (args, says) in [
        (&["-tools"][..], "flag needs an argument: -tools"),
        (&["---tools=1"], "bad flag syntax"),
        (&["extra"], "extra"),
        (&["-help=maybe"], "-help"),
    ] {
        let f = run(args);
        assert_exit(&f, 2);
        assert_eq!(f.stdout, "");
        let first = f.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(says), "{args:?}: {first:?}");
    }
}

#[test]
fn bad_values_exit_2_with_a_line_naming_the_flag() {
    for (arg, flag) in [
        ("-tools=abc", "-tools"),
        ("-tools=-5", "-tools"),
        ("-tools=99999999999999999999", "-tools"),
        ("-resources=1.5", "-resources"),
        ("-prompts=", "-prompts"),
        ("-tool-size=-1", "-tool-size"),
        ("-resource-size=x", "-resource-size"),
        ("-prompt-size=-1", "-prompt-size"),
        ("-payload-size=-1", "-payload-size"),
        ("-page-size=-1", "-page-size"),
        ("-port=70000", "-port"),
        ("-port=-1", "-port"),
        ("-start-port=0", "-start-port"),
        ("-transport=bogus", "-transport"),
        ("-log-level=loud", "-log-level"),
        ("-server-count=0", "-server-count"),
        ("-max-request-bytes=10", "-max-request-bytes"),
    ] {
        let f = run([arg]);
        assert_exit(&f, 2);
        assert_eq!(f.stdout, "", "{arg}");
        let first = f.stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(&format!("{flag}:")) || first.contains(&format!("{flag} ")),
            "{arg}: the first stderr line names {flag}: {:?}",
            f.stderr
        );
    }
}

fn tool_names(c: &mut StdioClient) -> Vec<String> {
    let r = c.result("tools/list", json!({}));
    r["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_go_flag_spelling_sets_the_value() {
    let three = ["benchmark_tool_0", "benchmark_tool_1", "benchmark_tool_2"];
    for args in [
        &["-tools=3"][..],
        &["-tools", "3"],
        &["--tools=3"],
        &["--tools", "3"],
        &["-tools=0x3"],
        &["-tools=0X3"],
        &["-tools=03"],
        &["-tools=0b11"],
        &["-tools=0o3"],
        &["-tools=+3"],
        &["-tools=1", "-tools=3"],
        &["-transport=STDIO", "-tools=3"],
        &["-transport", "stdio", "--tools", "0x3"],
    ] {
        let mut all = args.to_vec();
        all.push("-log-level=none");
        let mut c = StdioClient::start(&all);
        c.handshake("2025-11-25");
        assert_eq!(tool_names(&mut c), three, "{args:?}");
    }
    let mut c = StdioClient::start(["-tools=1_0", "-log-level=none"]);
    assert_eq!(tool_names(&mut c).len(), 10);
    let mut c = StdioClient::start(["-tools=010", "-log-level=none"]);
    assert_eq!(
        tool_names(&mut c).len(),
        8,
        "a leading 0 is octal, as in Go"
    );
}

fn tool_data(c: &mut StdioClient) -> String {
    let r = c.result(
        "tools/call",
        json!({"name": "benchmark_tool_0", "arguments": {}}),
    );
    let text: Value = serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
    text["data"].as_str().unwrap().to_string()
}

fn resource_data(c: &mut StdioClient) -> String {
    let r = c.result(
        "resources/read",
        json!({"uri": "benchmark://benchmark_resource_0"}),
    );
    let text: Value = serde_json::from_str(r["contents"][0]["text"].as_str().unwrap()).unwrap();
    text["data"].as_str().unwrap().to_string()
}

fn prompt_payload(c: &mut StdioClient) -> String {
    let r = c.result("prompts/get", json!({"name": "benchmark_prompt_0"}));
    let text = r["messages"][0]["content"]["text"].as_str().unwrap();
    // "Prompt: <name>\n\nTimestamp: <ts>\n\n<payload>"
    let (_, rest) = text.split_once("Timestamp: ").unwrap();
    rest[20..].strip_prefix("\n\n").unwrap().to_string()
}

#[test]
fn payload_size_sets_all_three_sizes() {
    let mut c = StdioClient::start(["-payload-size=50", "-log-level=none"]);
    c.handshake("2025-11-25");
    assert_payload(&tool_data(&mut c), "benchmark_tool_0", 50);
    assert_payload(&resource_data(&mut c), "benchmark_resource_0", 50);
    assert_payload(&prompt_payload(&mut c), "benchmark_prompt_0", 50);

    // An explicit per-kind size wins, on either side of -payload-size.
    for args in [
        ["-tool-size=7", "-payload-size=50"],
        ["-payload-size=50", "-tool-size=7"],
    ] {
        let mut c = StdioClient::start(args.iter().chain(&["-log-level=none"]));
        c.handshake("2025-11-25");
        assert_payload(&tool_data(&mut c), "benchmark_tool_0", 7);
        assert_payload(&resource_data(&mut c), "benchmark_resource_0", 50);
        assert_payload(&prompt_payload(&mut c), "benchmark_prompt_0", 50);
    }
}

#[test]
fn an_auth_token_is_ignored_with_a_warning_on_stdio() {
    const SECRET: &str = "s3cr3t-t0ken-value";
    let mut from_env = command(["-tools=2"]);
    from_env.env("AUTH_TOKEN", SECRET);
    let flag = format!("-auth-token={SECRET}");
    for cmd in [from_env, command([flag.as_str(), "-tools=2"])] {
        let mut c = StdioClient::start_command(cmd);
        c.handshake("2025-11-25");
        assert_eq!(tool_names(&mut c), ["benchmark_tool_0", "benchmark_tool_1"]);
        let warning = c
            .server
            .wait_for_stderr_line(|l| l.contains("WARN") && l.contains("auth"));
        assert!(warning.contains("stdio"), "{warning}");
        c.close_stdin();
        assert_eq!(c.wait_exit(TIMEOUT).code(), Some(0));
        assert!(
            !c.stderr().contains(SECRET),
            "the token is never logged:\n{}",
            c.stderr()
        );
    }
}

#[test]
fn server_count_above_one_is_ignored_with_a_warning_on_stdio() {
    let mut c = StdioClient::start(["-server-count=3", "-tools=1"]);
    c.handshake("2025-11-25");
    assert_eq!(tool_names(&mut c), ["benchmark_tool_0"]);
    c.server
        .wait_for_stderr_line(|l| l.contains("WARN") && l.contains("server-count"));
}

/// A normal session, errors included, ending with stdin closed.
fn normal_session(c: &mut StdioClient) {
    c.handshake("2025-11-25");
    c.result("tools/list", json!({}));
    c.result(
        "tools/call",
        json!({"name": "benchmark_tool_0", "arguments": {"a": 1}}),
    );
    c.result(
        "resources/read",
        json!({"uri": "benchmark://benchmark_resource_0"}),
    );
    c.result("prompts/get", json!({"name": "benchmark_prompt_0"}));
    c.error("tools/call", json!({"name": "nope"}));
    c.error("nope", json!({}));
    c.send_line("{bad");
    c.recv();
    c.close_stdin();
    assert!(c.recv_to_eof().is_empty());
    assert_eq!(c.wait_exit(TIMEOUT).code(), Some(0));
}

#[test]
fn quiet_log_levels_leave_stderr_empty() {
    for level in ["none", "NONE", "off", "silent", "warn", "error"] {
        let arg = format!("-log-level={level}");
        let mut c = StdioClient::start([arg.as_str()]);
        normal_session(&mut c);
        assert_eq!(c.stderr(), "", "{arg}");
    }
}

#[test]
fn info_logs_start_up_only_not_each_request() {
    let mut c = StdioClient::start(["-tools=5"]);
    c.server
        .wait_for_stderr_line(|l| l.contains("serving via stdio transport"));
    c.handshake("2025-11-25");
    // Let any start-up output still in the pipe arrive.
    thread::sleep(Duration::from_millis(100));
    let before = c.stderr();
    assert!(before.contains("INFO"), "{before}");
    assert!(
        before.contains("tools=5"),
        "the configuration is logged: {before}"
    );
    for i in 0..50 {
        match i % 5 {
            0 => {
                c.result("tools/list", json!({}));
            }
            1 => {
                c.result("tools/call", json!({"name": "benchmark_tool_1"}));
            }
            2 => {
                c.error("tools/call", json!({"name": "nope"}));
            }
            3 => {
                c.error("resources/read", json!({"uri": "x"}));
            }
            _ => c.ping(),
        }
    }
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        c.stderr().lines().count(),
        before.lines().count(),
        "no per-request lines at info:\n{}",
        c.stderr()
    );
}

#[test]
fn debug_logs_each_request() {
    let mut c = StdioClient::start(["-log-level=debug"]);
    c.handshake("2025-11-25");
    c.result("tools/list", json!({}));
    let line = c.server.wait_for_stderr_line(|l| l.contains("tools/list"));
    assert!(line.contains("DEBUG"), "{line}");
    c.result(
        "tools/call",
        json!({"name": "benchmark_tool_0", "arguments": {}}),
    );
    c.server.wait_for_stderr_line(|l| l.contains("tools/call"));
    c.error("made/up", json!({}));
    c.server.wait_for_stderr_line(|l| l.contains("made/up"));
    // Logs never reach stdout: the next line is still the ping reply.
    c.ping();
}

#[test]
fn a_run_without_stdin_serves_nothing_and_exits_zero() {
    let f = run_command(command(["-log-level=none"]));
    assert_exit(&f, 0);
    assert_eq!(f.stdout, "");
    assert_eq!(f.stderr, "");
}

#[test]
fn bench_environment_variables_set_flags_and_the_command_line_wins() {
    let mut cmd = command(["-log-level=none"]);
    cmd.env("BENCH_TOOLS", "3");
    let mut c = StdioClient::start_command(cmd);
    c.handshake("2025-11-25");
    assert_eq!(
        tool_names(&mut c),
        ["benchmark_tool_0", "benchmark_tool_1", "benchmark_tool_2"]
    );

    let mut cmd = command(["-tools=1", "-log-level=none"]);
    cmd.env("BENCH_TOOLS", "3").env("BENCH_TOOL_SIZE", "9");
    let mut c = StdioClient::start_command(cmd);
    c.handshake("2025-11-25");
    assert_eq!(tool_names(&mut c), ["benchmark_tool_0"]);
    assert_payload(&tool_data(&mut c), "benchmark_tool_0", 9);

    let mut cmd = command(["-log-level=none"]);
    cmd.env("BENCH_TOOLS", "many");
    let f = run_command(cmd);
    assert_exit(&f, 2);
    assert!(f.stderr.contains("-tools"), "{}", f.stderr);
}

#[test]
fn payload_size_on_the_command_line_wins_over_a_bench_size_variable() {
    let mut cmd = command(["-payload-size=50", "-log-level=none"]);
    cmd.env("BENCH_TOOL_SIZE", "7");
    let mut c = StdioClient::start_command(cmd);
    c.handshake("2025-11-25");
    let r = c.result("tools/call", json!({"name": "benchmark_tool_0"}));
    let text: Value = serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_payload(text["data"].as_str().unwrap(), "benchmark_tool_0", 50);
}

#[test]
fn a_bad_bench_variable_names_itself() {
    let mut cmd = command(["-log-level=none"]);
    cmd.env("BENCH_TOOLS", "many");
    let done = run_command(cmd);
    assert_eq!(done.code(), 2);
    assert!(
        done.stderr.contains("BENCH_TOOLS (flag -tools)"),
        "{}",
        done.stderr
    );
}

#[test]
fn a_server_that_cannot_start_says_why_even_at_log_level_none() {
    let done = run(["-transport=http", "-addr=not-an-address", "-log-level=none"]);
    assert_eq!(done.code(), 1, "{}", done.stderr);
    assert!(
        done.stderr.contains("not-an-address"),
        "the error names the address: {:?}",
        done.stderr
    );
}

#[test]
fn the_readme_documents_every_flag_and_its_variable() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable");
    let usage = run(["-help"]).stderr;
    let flags: Vec<&str> = usage
        .lines()
        .filter_map(|l| l.strip_prefix("  -"))
        .filter(|f| !f.contains(' '))
        .collect();
    assert!(flags.len() > 30, "{usage}");
    for flag in flags {
        assert!(
            readme.contains(&format!("`-{flag}")),
            "README lacks -{flag}"
        );
        if !matches!(flag, "help" | "version" | "healthcheck") {
            let var = format!("BENCH_{}", flag.to_ascii_uppercase().replace('-', "_"));
            assert!(readme.contains(&var), "README lacks {var}");
        }
    }
}

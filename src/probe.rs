//! `-healthcheck[=URL]`: a self-probe for images without a shell or curl (scratch containers,
//! Kubernetes exec probes). It sends one `GET` over plain HTTP/1.1 and succeeds on `200`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::cli::Config;

/// The `/health` URL of the server `config` describes (its first instance), reached over
/// loopback when it listens on every interface.
pub fn default_health_url(config: &Config) -> String {
    let local = |host: &str| match host {
        "" | "0.0.0.0" => "127.0.0.1".to_string(),
        "::" | "[::]" => "[::1]".to_string(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    };
    let authority = match (&config.addr, config.server_count > 1) {
        (Some(addr), false) => match addr.rsplit_once(':') {
            Some((host, port)) => format!("{}:{port}", local(host)),
            None => addr.clone(),
        },
        (_, multi) => {
            let port = if multi {
                config.start_port
            } else {
                config.port
            };
            format!("{}:{port}", local(&config.listen))
        }
    };
    format!("http://{authority}/health")
}

/// The configuration of the benchmark-server running as PID 1 (a container's main process),
/// read from `/proc/1/cmdline` and this process's environment; `None` when PID 1 is
/// something else or is this process.
pub fn server_config_of_pid1() -> Option<Config> {
    if std::process::id() == 1 {
        return None;
    }
    let raw = std::fs::read("/proc/1/cmdline").ok()?;
    config_from_cmdline(&raw, |k| std::env::var(k).ok())
}

/// The configuration a NUL-separated command line (as in `/proc/<pid>/cmdline`) gives, if
/// its program is benchmark-server.
fn config_from_cmdline(raw: &[u8], env: impl Fn(&str) -> Option<String>) -> Option<Config> {
    let mut args = raw.split(|&b| b == 0).filter(|a| !a.is_empty());
    let program = String::from_utf8_lossy(args.next()?).into_owned();
    if program.rsplit('/').next() != Some("benchmark-server") {
        return None;
    }
    let args: Vec<String> = args
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    match crate::cli::parse(args, env) {
        Ok(crate::cli::Command::Run(c)) => Some(*c),
        _ => None,
    }
}

/// GETs `url`; `Ok` on HTTP 200, `Err` with the reason otherwise.
pub fn healthcheck(url: &str, timeout: Duration) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs can be probed"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/health"),
    };
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{url}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: benchmark-server-healthcheck\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("{url}: {e}"))?;
    let mut head = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match stream.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("{url}: {e}")),
        }
    }
    let status = std::str::from_utf8(&head[..n])
        .ok()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or("");
    if status == "200" {
        Ok(())
    } else {
        Err(format!("{url}: unhealthy (status {status:?})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Command, parse};

    fn config(args: &[&str]) -> Config {
        match parse(args.iter().copied(), |_| None) {
            Ok(Command::Run(c)) => *c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_url_follows_the_listen_flags() {
        assert_eq!(
            default_health_url(&config(&[])),
            "http://127.0.0.1:8080/health"
        );
        assert_eq!(
            default_health_url(&config(&["-listen=10.1.2.3", "-port=9"])),
            "http://10.1.2.3:9/health"
        );
        assert_eq!(
            default_health_url(&config(&["-addr=:7000"])),
            "http://127.0.0.1:7000/health"
        );
        assert_eq!(
            default_health_url(&config(&["-listen=::", "-port=5"])),
            "http://[::1]:5/health"
        );
        assert_eq!(
            default_health_url(&config(&[
                "-transport=http",
                "-server-count=3",
                "-start-port=9000"
            ])),
            "http://127.0.0.1:9000/health"
        );
    }

    #[test]
    fn the_container_main_process_flags_are_read() {
        let cmdline = b"/benchmark-server\0-transport=http\0-server-count=10\0-start-port=9000\0";
        let c = config_from_cmdline(cmdline, |_| None).expect("parsed");
        assert_eq!(default_health_url(&c), "http://127.0.0.1:9000/health");
        let env = |k: &str| (k == "BENCH_PORT").then(|| "7777".to_string());
        let c = config_from_cmdline(b"/benchmark-server\0", env).expect("parsed");
        assert_eq!(c.port, 7777);
        assert!(config_from_cmdline(b"/sbin/init\0", |_| None).is_none());
        assert!(config_from_cmdline(b"/benchmark-server\0-tools=x\0", |_| None).is_none());
    }

    #[test]
    fn a_dead_server_is_unhealthy() {
        // Bind then drop to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/health");
        assert!(healthcheck(&url, Duration::from_secs(1)).is_err());
        assert!(healthcheck("https://127.0.0.1/health", Duration::from_secs(1)).is_err());
    }
}

//! Entry point: parse flags, set up logging, run the chosen transport, map errors to exit codes.

use std::io::Write;
use std::process::ExitCode;

use benchmark_server::cli::{self, Command, Config, SessionMode, Transport};
use benchmark_server::dispatch::Dispatcher;
use benchmark_server::probe;
use benchmark_server::transport::{self, stdio};

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{e}");
            if e.show_usage {
                let _ = write!(err, "\n{}", cli::usage());
            } else {
                let _ = writeln!(err, "Run 'benchmark-server -help' for usage.");
            }
            return ExitCode::from(2);
        }
    };
    let config = match command {
        Command::Help => {
            eprint!("{}", cli::usage());
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("benchmark-server {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Healthcheck { url, config } => {
            // A bare `-healthcheck` in a container probes the server that is PID 1, with its
            // flags; given any other flag, it probes what those flags describe.
            let bare = std::env::args_os().count() == 2;
            let target = if bare {
                probe::server_config_of_pid1().unwrap_or(*config)
            } else {
                *config
            };
            let url = url.unwrap_or_else(|| probe::default_health_url(&target));
            return match probe::healthcheck(&url, std::time::Duration::from_secs(3)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("healthcheck failed: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Run(config) => config,
    };
    init_logging(config.log_level);
    log_configuration(&config);
    match run(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Printed whatever -log-level says: a server that cannot start must say why.
            eprintln!("benchmark-server: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(level: log::LevelFilter) {
    env_logger::Builder::new()
        .filter_level(level)
        .target(env_logger::Target::Stderr)
        .format_timestamp_millis()
        .init();
}

fn log_configuration(c: &Config) {
    log::info!("starting benchmark-server {}", env!("CARGO_PKG_VERSION"));
    log::info!(
        "configuration: transport={} tools={} (size={}) resources={} (size={}) prompts={} (size={}) page-size={}",
        c.transport.as_str(),
        c.tools,
        c.tool_size,
        c.resources,
        c.resource_size,
        c.prompts,
        c.prompt_size,
        c.page_size
    );
    if !c.realism.is_off() {
        log::info!("catalog realism: {}", c.realism.describe());
    }
    if c.transport == Transport::Stdio {
        if c.auth_token.is_some() {
            log::warn!("auth-token is ignored for stdio transport");
        }
        if c.server_count > 1 {
            log::warn!("stdio transport does not support multi-server mode, ignoring server-count");
        }
    } else {
        if c.auth_token.is_some() {
            let source = if c.auth_token_from_env {
                "AUTH_TOKEN"
            } else {
                "-auth-token"
            };
            log::info!("authentication enabled with Bearer token (from {source})");
        }
        if c.transport == Transport::Http
            && c.session_mode == SessionMode::Signed
            && c.session_secret.is_none()
        {
            log::warn!(
                "-session-mode=signed without -session-secret: ids are valid on this process only"
            );
        }
    }
}

fn run(config: &Config) -> Result<(), String> {
    match config.transport {
        Transport::Stdio => {
            let instance = config
                .instance_id
                .clone()
                .unwrap_or_else(transport::hostname);
            let dispatcher =
                Dispatcher::new(config.catalog(), config.page_size, "benchmark-server")
                    .with_instance_id(instance)
                    .with_cache_hints(config.cache);
            log::info!("serving via stdio transport");
            // The transport buffers its own output; write to a duplicate of fd 1 rather than
            // through std's line-buffered stdout, which scans every chunk for newlines.
            let stdout = std::io::stdout();
            let raw_stdout = {
                use std::os::fd::AsFd;
                stdout.as_fd().try_clone_to_owned().map(std::fs::File::from)
            };
            let result = match raw_stdout {
                Ok(out) => stdio::serve(
                    &dispatcher,
                    std::io::stdin().lock(),
                    out,
                    config.max_request_bytes,
                ),
                Err(_) => stdio::serve(
                    &dispatcher,
                    std::io::stdin().lock(),
                    stdout,
                    config.max_request_bytes,
                ),
            };
            result.map_err(|e| format!("stdio: {e}"))
        }
        Transport::Sse | Transport::Http => {
            let mut builder = if config.threads == 1 {
                tokio::runtime::Builder::new_current_thread()
            } else {
                tokio::runtime::Builder::new_multi_thread()
            };
            if config.threads > 1 {
                builder.worker_threads(config.threads);
            }
            let runtime = builder
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start the runtime: {e}"))?;
            runtime.block_on(transport::serve(config.clone()))
        }
    }
}

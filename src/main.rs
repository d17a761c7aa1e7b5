//! Entry point: parse flags, set up logging, run the chosen transport, map errors to exit codes.

use std::io::Write;
use std::process::ExitCode;

use benchmark_server::cli::{self, Command, Config, SessionMode, Transport};
use benchmark_server::dispatch::Dispatcher;
use benchmark_server::transport::{self, stdio};
use benchmark_server::{metrics, probe};

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
    if c.faults.is_active() {
        log::info!("fault injection: {}", c.faults);
    }
    if !c.realism.is_off() {
        log::info!("catalog realism: {}", c.realism.describe());
    }
    if c.transport == Transport::Stdio {
        if c.admin {
            log::warn!("-admin is ignored for stdio transport (the admin endpoint is HTTP)");
        }
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
        if c.admin && c.auth_token.is_none() {
            log::warn!(
                "-admin without a bearer token: anyone who can connect can reconfigure the server"
            );
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
    metrics::set_served_transport(config.transport);
    match config.transport {
        Transport::Stdio => {
            let instance = config
                .instance_id
                .clone()
                .unwrap_or_else(transport::hostname);
            let dispatcher =
                Dispatcher::new(config.catalog(), config.page_size, "benchmark-server")
                    .with_instance_id(instance)
                    .with_cache_hints(config.cache)
                    .with_faults(config.faults.is_active().then(|| {
                        std::sync::Arc::new(benchmark_server::faults::Faults::new(
                            config.faults.clone(),
                        ))
                    }));
            // The counters go to stderr at exit (when info is logged) and on SIGUSR1.
            let summary_at_exit = config.log_level >= log::LevelFilter::Info;
            stdio_summary_signals(summary_at_exit);
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
                    config.max_pipelined,
                ),
                Err(_) => stdio::serve(
                    &dispatcher,
                    std::io::stdin().lock(),
                    stdout,
                    config.max_request_bytes,
                    config.max_pipelined,
                ),
            };
            if summary_at_exit {
                metrics::write_summary("at exit");
            }
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

/// Over stdio (served on the main thread, without a runtime), a thread of its own waits for
/// signals: SIGUSR1 prints the counters, SIGINT and SIGTERM print them (if `at_exit`) and end
/// the process with status 0. The handlers are in place when this returns.
fn stdio_summary_signals(at_exit: bool) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => {
                log::warn!("cannot wait for signals: {e}");
                return;
            }
        };
        let signals = {
            let _context = runtime.enter();
            (
                signal(SignalKind::user_defined1()),
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            )
        };
        let (Ok(mut usr1), Ok(mut int), Ok(mut term)) = signals else {
            log::warn!("cannot install signal handlers");
            return;
        };
        let waiter = move || {
            runtime.block_on(async move {
                loop {
                    let reason = tokio::select! {
                        _ = usr1.recv() => {
                            metrics::write_summary("on SIGUSR1");
                            continue;
                        }
                        _ = int.recv() => "on SIGINT",
                        _ = term.recv() => "on SIGTERM",
                    };
                    log::info!("received shutdown signal, exiting");
                    if at_exit {
                        metrics::write_summary(reason);
                    }
                    std::process::exit(0);
                }
            })
        };
        if let Err(e) = std::thread::Builder::new()
            .name("signals".into())
            .spawn(waiter)
        {
            log::warn!("cannot wait for signals: {e}");
        }
    }
    #[cfg(not(unix))]
    let _ = at_exit;
}

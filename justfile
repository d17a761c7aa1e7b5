# Convenience tasks for benchmark-server (https://github.com/casey/just).
# Each recipe is a plain cargo command or a run of the release binary; nothing here is
# needed to build or test the project.

target_dir := env_var_or_default("CARGO_TARGET_DIR", "target")
bin := target_dir + "/release/benchmark-server"

# List the targets (the default)
help:
    @{{ just_executable() }} --list --unsorted --justfile {{ justfile() }}

# Build the optimized binary (target/release/benchmark-server)
build:
    cargo build --release

# Run over stdio with the defaults (100 tools/resources/prompts); extra flags are passed on
run *ARGS: build
    {{ bin }} {{ ARGS }}

# 10 tools, 10 resources, 10 prompts, debug logging
run-small: build
    {{ bin }} -tools=10 -resources=10 -prompts=10 -log-level=debug

# 1000 tools, 500 resources, 200 prompts
run-medium: build
    {{ bin }} -tools=1000 -resources=500 -prompts=200

# 10000 tools with 5000-byte payloads
run-large: build
    {{ bin }} -tools=10000 -tool-size=5000 -resource-size=5000 -prompt-size=5000

# 100000 tools, 50000 resources, 10000 prompts, no logging
run-xlarge: build
    {{ bin }} -tools=100000 -resources=50000 -prompts=10000 -log-level=none

# Legacy SSE transport on port 8080
run-sse *ARGS: build
    {{ bin }} -transport=sse -port=8080 {{ ARGS }}

# Streamable HTTP transport on port 9090
run-http *ARGS: build
    {{ bin }} -transport=http -port=9090 {{ ARGS }}

# Every test target (unit, integration, benches in quick test mode)
test:
    cargo test --all-targets

# Criterion micro-benchmarks, then the end-to-end stdio benchmark (see BENCHMARKS.md)
bench:
    cargo bench --bench hot_paths
    cargo bench --bench e2e_stdio

# Every end-to-end benchmark: stdio, then Streamable HTTP and SSE (load, memory, scaling)
bench-e2e:
    cargo bench --bench e2e_stdio
    cargo bench --bench e2e_http

# End-to-end HTTP benchmark with wrk (needs wrk and curl); RUNS repetitions per figure, extra
# server flags after it (just bench-http 5 -threads=1)
bench-http RUNS="5" *FLAGS:
    benches/http/run.sh {{ RUNS }} {{ FLAGS }}

# Instructions per request under callgrind (stdio and Streamable HTTP; needs valgrind, wrk, curl);
# deterministic, so two builds compare exactly: just bench-callgrind path/to/other/benchmark-server
bench-callgrind *BIN:
    benches/callgrind/run.sh {{ BIN }}

# Soak: mixed load over stdio, legacy SSE and Streamable HTTP with session churn for SECONDS;
# fails if a request is lost or a file descriptor leaks (see BENCHMARKS.md)
soak SECONDS="180":
    cargo bench --bench soak -- --seconds {{ SECONDS }}

# Run every fuzz target for SECONDS each (needs cargo-fuzz; see fuzz/README.md)
fuzz SECONDS="60":
    cd fuzz && for t in dispatch cursor cli gate; do \
        mkdir -p target/corpus/$t && \
        RUSTC_BOOTSTRAP=1 cargo fuzz run $t target/corpus/$t corpus/$t -- \
            -max_total_time={{ SECONDS }} -timeout=10 || exit 1; \
    done

# Format the code
fmt:
    cargo fmt --all

# Formatting check and clippy with warnings as errors (what CI runs)
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Remove build output
clean:
    cargo clean

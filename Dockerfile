# syntax=docker/dockerfile:1
#
# benchmark-server in a scratch image: one statically linked binary, nothing else.
#
#   docker build -t benchmark-server .
#   docker run --rm -p 8080:8080 benchmark-server                       # Streamable HTTP on :8080
#   docker run --rm -p 9000-9009:9000-9009 benchmark-server \
#       -transport=http -server-count=10 -start-port=9000 -tools=50 -resources=20 -prompts=10
#
# The build is for linux/amd64 (x86_64); on another host add --platform=linux/amd64.
# tests/ship.rs runs the same cargo command and checks that its output is static and runs in an
# empty root directory.

# --- build ---------------------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
WORKDIR /src

# A static glibc executable: no dynamic loader, no shared libraries (the musl target is not
# needed). Rust's `strip`, fat LTO and one codegen unit come from [profile.release]. Session ids
# take their randomness from the getrandom system call, so the image needs no /dev/urandom.
ENV RUSTFLAGS="-C target-feature=+crt-static --cfg getrandom_backend=\"linux_getrandom\""

COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches

RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-gnu \
    && cp target/x86_64-unknown-linux-gnu/release/benchmark-server /benchmark-server

# --- runtime -------------------------------------------------------------------------------
FROM scratch

# The version label is Cargo.toml's version (tests/ship.rs checks that they agree).
LABEL org.opencontainers.image.title="benchmark-server" \
      org.opencontainers.image.description="A fast synthetic MCP server for benchmarking gateways, clients and SDKs" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=build /benchmark-server /benchmark-server

# No /etc/passwd in a scratch image: a numeric user and group.
USER 65532:65532
EXPOSE 8080

# The probe is the server binary itself (there is no shell or curl in the image). A bare
# -healthcheck reads the server's flags from /proc/1/cmdline, so it follows whatever arguments
# or BENCH_* variables the container was started with.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/benchmark-server", "-healthcheck"]

ENTRYPOINT ["/benchmark-server"]
CMD ["-transport=http", "-listen=0.0.0.0", "-port=8080"]

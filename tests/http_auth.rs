//! Bearer authentication and the Host/Origin checks of both HTTP transports, with raw
//! requests: exact header spellings, path tricks and absolute-form request targets.

mod common;
mod http_support;

use std::time::Duration;

use common::command;
use http_support::{HttpServer, LATEST, Request, Response, SseStream, initialize, result_of, rpc};
use serde_json::Value;

const TOKEN: &str = "secret123";
const TRANSPORTS: [&str; 2] = ["http", "sse"];

/// Starts `transport` on a free loopback port with `extra` flags.
fn start(transport: &str, extra: &[&str]) -> HttpServer {
    let mut args = vec![
        format!("-transport={transport}"),
        "-listen=127.0.0.1".to_string(),
        "-port=0".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    HttpServer::start_command(command(&args), 1)
}

/// The request that reaches the transport's MCP endpoint: an `initialize` POST for
/// Streamable HTTP, the stream GET for legacy SSE.
fn mcp_request(transport: &str) -> Request {
    match transport {
        "http" => Request::mcp("/mcp", &initialize(1, Some(LATEST))),
        _ => Request::sse("/sse"),
    }
}

/// Sends `req` and, when it is the SSE stream, reads only the head (the body never ends).
fn send(s: &HttpServer, req: &Request) -> Response {
    let mut c = s.connect();
    c.write_request(req);
    let head = c.read_head();
    if head.content_type().starts_with("text/event-stream") && req.method() == "GET" {
        return Response {
            head,
            body: Vec::new(),
        };
    }
    let body = c
        .try_read_body(std::time::Instant::now() + common::TIMEOUT)
        .unwrap_or_else(|e| panic!("reading the body: {e}"));
    Response { head, body }
}

/// Asserts that `req` got through to the MCP endpoint.
#[track_caller]
fn assert_reaches_mcp(s: &HttpServer, transport: &str, req: &Request) {
    let r = send(s, req);
    assert_eq!(r.status(), 200, "{:?} {}", r.head, r.text());
    if transport == "http" {
        assert_eq!(result_of(&r.json(), 1)["protocolVersion"], LATEST);
    } else {
        assert!(r.content_type().starts_with("text/event-stream"));
    }
}

/// Asserts a 401 with a Bearer challenge.
#[track_caller]
fn assert_unauthorized(r: &Response) {
    assert_eq!(r.status(), 401, "{:?} {}", r.head, r.text());
    let challenge = r.header("www-authenticate").unwrap_or_else(|| {
        panic!("401 without WWW-Authenticate: {:?}", r.head);
    });
    assert!(
        challenge.starts_with("Bearer realm=\"MCP Server\""),
        "{challenge}"
    );
    assert_eq!(r.session_id(), None);
}

#[test]
fn bearer_token_is_required() {
    for transport in TRANSPORTS {
        let s = start(transport, &[&format!("-auth-token={TOKEN}")]);
        let req = mcp_request(transport);

        let r = send(&s, &req);
        assert_unauthorized(&r);
        assert_eq!(
            r.header("www-authenticate"),
            Some("Bearer realm=\"MCP Server\"")
        );

        let r = send(&s, &req.clone().bearer("wrong"));
        assert_unauthorized(&r);
        let challenge = r.header("www-authenticate").unwrap();
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

        for header in [
            "Bearer wrong",
            "Bearer secret12",
            "Bearer Secret123",
            "Bearer secret123x",
            "Bearer secret123 extra",
            "Bearer xsecret123",
            "Basic c2VjcmV0MTIz",
            "Basic secret123",
            "secret123",
            "Bearer",
            "Bearer ",
            "Bearersecret123",
            "Token secret123",
            "",
        ] {
            let r = send(&s, &req.clone().header("Authorization", header));
            assert_unauthorized(&r);
        }
        // Two Authorization headers, the first one wrong.
        let r = send(
            &s,
            &req.clone()
                .header("Authorization", "Bearer wrong")
                .header("Authorization", "Bearer secret123"),
        );
        assert_ne!(r.status() / 100, 2, "{:?}", r.head);

        for header in [
            "Bearer secret123",
            "bearer secret123",
            "BEARER secret123",
            "Bearer  secret123",
            "Bearer secret123 ",
        ] {
            assert_reaches_mcp(&s, transport, &req.clone().header("Authorization", header));
        }
    }
}

#[test]
fn every_sse_endpoint_needs_the_token() {
    let s = start("sse", &[&format!("-auth-token={TOKEN}")]);
    let mut stream = SseStream::open(s.addr(), &Request::sse("/sse").bearer(TOKEN));
    let endpoint = stream.next().data.expect("endpoint");
    let post = |auth: Option<&str>| {
        let mut r = Request::post(&endpoint, rpc(2, "ping", Value::Null).to_string());
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        s.send(&r)
    };
    assert_unauthorized(&post(None));
    assert_unauthorized(&post(Some("Bearer nope")));
    // Nothing reached the session.
    assert!(stream.try_next(Duration::from_millis(100)).is_err());
    post(Some("Bearer secret123")).expect(202);
    assert_eq!(stream.next_message()["id"], 2);
}

#[test]
fn streamable_http_needs_the_token_on_every_request() {
    let s = start("http", &[&format!("-auth-token={TOKEN}")]);
    let r = s.send(&mcp_request("http").bearer(TOKEN));
    r.expect(200);
    let id = r.session_id().expect("session").to_string();
    let ping = Request::mcp("/mcp", &rpc(2, "ping", Value::Null)).session(&id);
    assert_unauthorized(&s.send(&ping));
    s.send(&ping.clone().bearer(TOKEN)).expect(200);
    assert_unauthorized(&s.send(&Request::sse("/mcp").session(&id)));
    assert_unauthorized(&s.send(&Request::delete("/mcp").session(&id)));
    assert_unauthorized(&s.send(&Request::new("PUT", "/mcp")));
    assert_unauthorized(&s.send(&Request::get("/nope")));
    s.send(&Request::delete("/mcp").session(&id).bearer(TOKEN))
        .expect(200);
}

#[test]
fn auth_token_from_the_environment_wins() {
    for transport in TRANSPORTS {
        let mut cmd = command([
            format!("-transport={transport}"),
            "-listen=127.0.0.1".to_string(),
            "-port=0".to_string(),
            format!("-auth-token={TOKEN}"),
        ]);
        cmd.env("AUTH_TOKEN", "envtok");
        let s = HttpServer::start_command(cmd, 1);
        let req = mcp_request(transport);
        assert_unauthorized(&send(&s, &req));
        assert_unauthorized(&send(&s, &req.clone().bearer(TOKEN)));
        assert_reaches_mcp(&s, transport, &req.clone().bearer("envtok"));
        // The environment alone is enough.
        let mut cmd = command([
            format!("-transport={transport}"),
            "-listen=127.0.0.1".to_string(),
            "-port=0".to_string(),
        ]);
        cmd.env("AUTH_TOKEN", "envtok");
        let s = HttpServer::start_command(cmd, 1);
        assert_unauthorized(&send(&s, &req));
        assert_reaches_mcp(&s, transport, &req.clone().bearer("envtok"));
    }
}

#[test]
fn probes_need_no_token() {
    for transport in TRANSPORTS {
        let s = start(transport, &[&format!("-auth-token={TOKEN}")]);
        for path in [
            "/health",
            "/version",
            "/ready",
            "/health?x=1",
            "/ready?probe=k8s",
        ] {
            let r = s.send(&Request::get(path));
            r.expect(200);
            assert_eq!(r.content_type(), "application/json");
            r.json();
        }
        let r = s.send(&Request::get("/health?x=1"));
        assert_eq!(r.json()["status"], "healthy");
        // A token, right or wrong, changes nothing.
        s.send(&Request::get("/health").bearer("wrong")).expect(200);
        s.send(&Request::get("/health").bearer(TOKEN)).expect(200);
        // Probes answer GET and HEAD only.
        let r = s.connect().send(&Request::new("HEAD", "/health"));
        r.expect(200);
        assert!(r.body.is_empty());
        let r = s.send(&Request::post("/health", "{}"));
        r.expect(405);
    }
}

/// Request targets that spell a probe path around an MCP path (or the reverse).
const BYPASSES: &[&str] = &[
    "//health",
    "/health/",
    "/HEALTH",
    "/Health",
    "/health/../mcp",
    "/health/../sse",
    "/health/..",
    "/./mcp",
    "/./sse",
    "/%2e/mcp",
    "/%2e/sse",
    "/health%2F..%2Fmcp",
    "/health%2F..%2Fsse",
    "/health%2f..%2fsse",
    "/%68ealth",
    "/health;/../mcp",
    "/health%00",
    "/healthz",
    "/ready/../sse",
    "/version/../mcp",
    "/health/../messages",
];

#[test]
fn path_spellings_do_not_bypass_authentication() {
    for transport in TRANSPORTS {
        let s = start(transport, &[&format!("-auth-token={TOKEN}")]);
        for target in BYPASSES {
            for req in [
                Request::get(target).header("Accept", "text/event-stream"),
                Request::mcp(target, &initialize(1, Some(LATEST))),
            ] {
                let r = send(&s, &req);
                assert_unauthorized(&r);
                // With the token the same spelling is not an MCP endpoint either.
                let r = send(&s, &req.clone().bearer(TOKEN));
                assert_eq!(
                    r.status(),
                    404,
                    "{transport} {} {target} with the token: {:?} {}",
                    req.method(),
                    r.head,
                    r.text()
                );
            }
        }
    }
}

#[test]
fn absolute_form_targets_are_judged_by_their_path() {
    for transport in TRANSPORTS {
        let s = start(transport, &[&format!("-auth-token={TOKEN}")]);
        let port = s.port();
        for target in [
            "http://127.0.0.1/health/../sse".to_string(),
            format!("http://127.0.0.1:{port}/health/../sse"),
            format!("http://127.0.0.1:{port}/health/../mcp"),
            format!("http://127.0.0.1:{port}/sse"),
            format!("http://127.0.0.1:{port}/mcp"),
            format!("http://localhost:{port}//health"),
        ] {
            let r = send(&s, &Request::sse(&target));
            assert_unauthorized(&r);
            let r = send(&s, &Request::mcp(&target, &initialize(1, Some(LATEST))));
            assert_unauthorized(&r);
        }
        // The probe itself in absolute form is still the probe.
        let r = s.send(&Request::get(&format!("http://127.0.0.1:{port}/health")));
        r.expect(200);
        assert_eq!(r.json()["status"], "healthy");
        // And the real endpoint in absolute form works with the token.
        let target = match transport {
            "http" => format!("http://127.0.0.1:{port}/mcp"),
            _ => format!("http://127.0.0.1:{port}/sse"),
        };
        let req = match transport {
            "http" => Request::mcp(&target, &initialize(1, Some(LATEST))),
            _ => Request::sse(&target),
        };
        assert_reaches_mcp(&s, transport, &req.bearer(TOKEN));
    }
}

#[test]
fn malformed_request_lines_never_succeed() {
    for transport in TRANSPORTS {
        let s = start(transport, &[&format!("-auth-token={TOKEN}")]);
        for raw in [
            "GET health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET /health\\..\\sse HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer secret123\0\r\n\r\n",
            "GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization : Bearer secret123\r\n\r\n",
        ] {
            let mut c = s.connect();
            c.write(raw.as_bytes());
            match c.try_read_head(std::time::Instant::now() + common::TIMEOUT, false) {
                Ok(head) => assert!(head.status >= 400, "{transport} {raw:?} got {head:?}"),
                // Closing the connection is a refusal too.
                Err(e) => assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                    ),
                    "{raw:?}: {e}"
                ),
            }
        }
    }
}

#[test]
fn foreign_host_is_refused_on_a_loopback_listener() {
    for transport in TRANSPORTS {
        let s = start(transport, &[]);
        let req = mcp_request(transport);
        for host in [
            "evil.example.com",
            "evil.example.com:80",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "10.0.0.1",
        ] {
            let r = send(&s, &req.clone().set("Host", host));
            assert_eq!(r.status(), 403, "Host {host}: {:?} {}", r.head, r.text());
        }
        for host in [
            "localhost",
            "localhost:1234",
            "127.0.0.1",
            "LOCALHOST:1",
            "[::1]:80",
        ] {
            assert_reaches_mcp(&s, transport, &req.clone().set("Host", host));
        }
    }
}

#[test]
fn cross_origin_requests_are_refused_unless_allowed() {
    for transport in TRANSPORTS {
        let s = start(transport, &[]);
        let req = mcp_request(transport);
        for origin in [
            "http://evil.example.com",
            "https://evil.example.com",
            "http://localhost.evil.example",
            "null",
            "file://",
        ] {
            let r = send(&s, &req.clone().header("Origin", origin));
            assert_eq!(
                r.status(),
                403,
                "Origin {origin}: {:?} {}",
                r.head,
                r.text()
            );
        }
        for origin in [
            "http://localhost:1234",
            "http://localhost",
            "http://127.0.0.1:8080",
            "https://[::1]:3000",
        ] {
            let r = send(&s, &req.clone().header("Origin", origin));
            assert_eq!(
                r.status(),
                200,
                "Origin {origin}: {:?} {}",
                r.head,
                r.text()
            );
            assert_eq!(r.header("access-control-allow-origin"), Some(origin));
        }

        let s = start(transport, &["-allowed-origins=https://app.example"]);
        assert_reaches_mcp(
            &s,
            transport,
            &req.clone().header("Origin", "https://app.example"),
        );
        assert_reaches_mcp(
            &s,
            transport,
            &req.clone().header("Origin", "http://localhost:5173"),
        );
        for origin in [
            "http://app.example",
            "https://app.example:444",
            "https://evil.example",
        ] {
            let r = send(&s, &req.clone().header("Origin", origin));
            assert_eq!(r.status(), 403, "Origin {origin}: {:?}", r.head);
        }

        let s = start(transport, &["-allowed-origins=*"]);
        for origin in ["http://evil.example.com", "https://anything.example:8443"] {
            assert_reaches_mcp(&s, transport, &req.clone().header("Origin", origin));
        }
    }
}

#[test]
fn authentication_comes_before_the_origin_check() {
    for transport in TRANSPORTS {
        let s = start(transport, &[&format!("-auth-token={TOKEN}")]);
        let req = mcp_request(transport).header("Origin", "http://evil.example.com");
        assert_unauthorized(&send(&s, &req));
        let r = send(&s, &req.clone().bearer(TOKEN));
        assert_eq!(r.status(), 403, "{:?}", r.head);
        let r = send(
            &s,
            &mcp_request(transport)
                .set("Host", "evil.example.com")
                .bearer(TOKEN),
        );
        assert_eq!(r.status(), 403, "{:?}", r.head);
    }
}

#[test]
fn preflight_is_authenticated_and_origin_checked() {
    for transport in TRANSPORTS {
        let path = if transport == "http" { "/mcp" } else { "/sse" };
        let preflight = Request::new("OPTIONS", path)
            .header("Origin", "http://localhost:3000")
            .header("Access-Control-Request-Method", "POST");
        let s = start(transport, &[&format!("-auth-token={TOKEN}")]);
        assert_unauthorized(&s.send(&preflight));
        s.send(&preflight.clone().bearer(TOKEN)).expect(204);

        let s = start(transport, &[]);
        let r = s.send(&preflight);
        r.expect(204);
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some("http://localhost:3000")
        );
        let r = s.send(&preflight.clone().set("Origin", "http://evil.example.com"));
        r.expect(403);
        assert_eq!(r.header("access-control-allow-origin"), None);
    }
}

#[test]
fn duplicate_or_missing_host_and_origin_headers_are_refused() {
    for transport in TRANSPORTS {
        let s = start(transport, &[]);
        let req = mcp_request(transport);
        // A second Host must not slip a foreign name past the DNS-rebinding check.
        let two_hosts = req
            .clone()
            .no_host()
            .header("Host", "127.0.0.1")
            .header("Host", "evil.example.com");
        let r = send(&s, &two_hosts);
        assert_eq!(r.status(), 400, "two Hosts: {:?} {}", r.head, r.text());
        let r = send(&s, &req.clone().no_host());
        assert_eq!(r.status(), 400, "HTTP/1.1 without Host: {:?}", r.head);
        for pair in [
            ["http://localhost", "http://evil.example.com"],
            ["http://evil.example.com", "http://localhost"],
        ] {
            let r = send(
                &s,
                &req.clone()
                    .header("Origin", pair[0])
                    .header("Origin", pair[1]),
            );
            assert_eq!(r.status(), 403, "Origins {pair:?}: {:?}", r.head);
        }
    }
}

#[test]
fn an_absolute_form_target_names_the_host() {
    for transport in TRANSPORTS {
        let s = start(transport, &[]);
        let foreign = match transport {
            "http" => Request::mcp("http://evil.example.com/mcp", &initialize(1, Some(LATEST))),
            _ => Request::sse("http://evil.example.com/sse"),
        };
        let r = send(&s, &foreign);
        assert_eq!(r.status(), 403, "absolute-form foreign host: {:?}", r.head);
    }
}

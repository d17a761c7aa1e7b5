//! Bearer-token authentication for the HTTP transports, and the paths exempt from it.
//!
//! The decision is made on the exact request path (the router uses the same match), so no
//! spelling of a URL (`//health`, `/HEALTH`, `/health/../sse`) reaches anything else without
//! the token. The token is compared in constant time and never logged.

/// Paths served without a token: liveness, readiness and version probes, and `/metrics` when
/// `metrics_public` (`-metrics-public`) says so.
pub fn is_exempt_path(path: &str, metrics_public: bool) -> bool {
    matches!(path, "/health" | "/version" | "/ready") || (metrics_public && path == "/metrics")
}

/// What the front door does with a request, decided from its path and `Authorization`
/// header alone, before any routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// An exempt probe path: served without a token.
    Probe,
    /// No token is configured, or the right one was presented.
    Authorized,
    /// Refused with 401.
    Refused(AuthFailure),
}

/// The access decision for one request. Only [`is_exempt_path`] paths pass without the
/// token, whatever else the request carries.
pub fn gate(
    path: &str,
    authorization: Option<&[u8]>,
    token: Option<&[u8]>,
    metrics_public: bool,
) -> Gate {
    if is_exempt_path(path, metrics_public) {
        return Gate::Probe;
    }
    match token {
        None => Gate::Authorized,
        Some(token) => match check(authorization, token) {
            Ok(()) => Gate::Authorized,
            Err(failure) => Gate::Refused(failure),
        },
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    MissingHeader,
    WrongScheme,
    WrongToken,
}

impl AuthFailure {
    /// The plain-text body of the 401 response.
    pub fn message(self) -> &'static str {
        match self {
            AuthFailure::MissingHeader => "Authorization required\n",
            AuthFailure::WrongScheme => "Invalid authorization format: expected 'Bearer <token>'\n",
            AuthFailure::WrongToken => "Invalid token\n",
        }
    }

    /// The `WWW-Authenticate` challenge (RFC 6750).
    pub fn challenge(self) -> &'static str {
        match self {
            AuthFailure::MissingHeader => "Bearer realm=\"MCP Server\"",
            AuthFailure::WrongScheme => "Bearer realm=\"MCP Server\", error=\"invalid_request\"",
            AuthFailure::WrongToken => "Bearer realm=\"MCP Server\", error=\"invalid_token\"",
        }
    }
}

/// Checks an `Authorization` header value against `token`: the scheme `Bearer` in any case,
/// one or more spaces, then exactly the token (trailing spaces and tabs are not part of it).
pub fn check(header: Option<&[u8]>, token: &[u8]) -> Result<(), AuthFailure> {
    let value = header.ok_or(AuthFailure::MissingHeader)?;
    let value = trim_end(value);
    if value.len() < 7 || !value[..6].eq_ignore_ascii_case(b"bearer") || value[6] != b' ' {
        return Err(AuthFailure::WrongScheme);
    }
    let presented = trim_start(&value[7..]);
    if constant_time_eq(presented, token) {
        Ok(())
    } else {
        Err(AuthFailure::WrongToken)
    }
}

fn trim_end(mut v: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

fn trim_start(mut v: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = v {
        v = rest;
    }
    v
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    // Fold over the longer input so a short guess costs as much as a long one.
    let len = a.len().max(b.len());
    let mut diff = (a.len() ^ b.len()) as u64;
    for i in 0..len {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= u64::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &[u8] = b"secret123";

    #[test]
    fn only_exact_probe_paths_are_exempt() {
        for p in ["/health", "/version", "/ready"] {
            assert!(is_exempt_path(p, false));
            assert!(is_exempt_path(p, true));
        }
        assert!(!is_exempt_path("/metrics", false));
        assert!(is_exempt_path("/metrics", true));
        for p in [
            "/metrics/",
            "//metrics",
            "/METRICS",
            "/metrics/../sse",
            "/metrics?x",
            "/metric",
            "/health/",
            "//health",
            "/HEALTH",
            "/health/../sse",
            "/health%2F..%2Fsse",
            "/healthz",
            "/sse",
            "/",
            "/mcp",
            "",
            "health",
        ] {
            assert!(!is_exempt_path(p, false), "{p}");
            assert!(!is_exempt_path(p, true), "{p}");
        }
    }

    #[test]
    fn accepts_bearer_in_any_case() {
        for h in [
            "Bearer secret123",
            "bearer secret123",
            "BEARER secret123",
            "Bearer  secret123",
            "Bearer secret123 \t",
        ] {
            assert_eq!(check(Some(h.as_bytes()), TOKEN), Ok(()), "{h:?}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(check(None, TOKEN), Err(AuthFailure::MissingHeader));
        for h in [
            "",
            "Bearer",
            "Bearer ",
            "Basic c2VjcmV0MTIz",
            "Bearersecret123",
            "Token secret123",
            "Bearer\tsecret123",
        ] {
            assert_eq!(
                check(Some(h.as_bytes()), TOKEN),
                Err(AuthFailure::WrongScheme),
                "{h:?}"
            );
        }
        for h in [
            "Bearer secret12",
            "Bearer secret1234",
            "Bearer secret123x",
            "Bearer Secret123",
            "Bearer secret123\0",
            "Bearer secret123 extra",
            "Bearer  ",
        ] {
            assert!(check(Some(h.as_bytes()), TOKEN).is_err(), "{h:?}");
        }
    }

    #[test]
    fn the_gate_opens_only_probes_without_the_token() {
        let token = Some(TOKEN);
        assert_eq!(gate("/health", None, token, false), Gate::Probe);
        assert_eq!(gate("/mcp", None, None, false), Gate::Authorized);
        assert_eq!(
            gate("/mcp", Some(b"Bearer secret123"), token, false),
            Gate::Authorized
        );
        assert_eq!(
            gate("//health", None, token, false),
            Gate::Refused(AuthFailure::MissingHeader)
        );
        assert_eq!(
            gate("/sse", Some(b"Bearer nope"), token, true),
            Gate::Refused(AuthFailure::WrongToken)
        );
        assert_eq!(
            gate("/metrics", None, token, false),
            Gate::Refused(AuthFailure::MissingHeader)
        );
        assert_eq!(
            gate("/metrics", Some(b"Bearer secret123"), token, false),
            Gate::Authorized
        );
        assert_eq!(gate("/metrics", None, token, true), Gate::Probe);
        assert_eq!(
            gate("/mcp", None, token, true),
            Gate::Refused(AuthFailure::MissingHeader)
        );
    }

    #[test]
    fn constant_time_eq_is_plain_equality() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(!constant_time_eq(b"a\0", b"a"));
    }
}

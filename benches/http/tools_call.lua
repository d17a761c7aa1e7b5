-- wrk script: one tools/call with a small arguments object per request (Streamable HTTP,
-- stateless session mode, so no handshake is needed).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json, text/event-stream"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"benchmark_tool_7","arguments":{"param1":"a","param2":"b"}}}'

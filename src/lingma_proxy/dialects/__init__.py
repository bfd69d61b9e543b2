"""Wire dialects, pure: no sockets, no asyncio, no files.

Every dialect package (``openai_chat``, ``openai_responses``, ``anthropic_messages``) exports
the same names from its ``__init__``, so the relay can treat them alike:

``NAME``                                  the dialect's name ("openai_chat", ...)
``parse_request(body) -> ir.Request``     client wire JSON (already decoded) -> IR; raises
                                          ``errors.InvalidRequest`` naming the field (``param``)
``render_request(req) -> dict``           IR -> wire JSON for an upstream of this dialect
``parse_response(body) -> ir.Response``   upstream non-streaming wire JSON -> IR
``render_response(resp, req) -> dict``    IR -> client wire JSON
``render_error(err) -> dict``             ``errors.ProxyError`` -> the dialect's error body
                                          (the HTTP status is ``err.status``)
``parse_error(status, body) -> ProxyError`` an upstream error answer -> ``ProxyError``
``StreamRenderer(req)``                   ``feed(ir.Event) -> list[bytes]`` (whole SSE frames),
                                          ``finish() -> list[bytes]``; renders ``ir.Ping`` and
                                          ``ir.StreamError`` in the dialect's own way
``StreamParser()``                        ``feed(sse.SSEEvent) -> list[ir.Event]``,
                                          ``finish() -> list[ir.Event]``: upstream SSE -> IR
                                          events that keep the IR invariants; an error event
                                          in the upstream stream raises ``ProxyError``
"""

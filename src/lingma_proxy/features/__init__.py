"""Pure transforms on the IR that make weak backends usable (no I/O anywhere in here).

Tool calling for backends without native tools (``tool_mode: emulate``, and the Lingma IPC
backend always); see docs/tool-emulation.md::

    from lingma_proxy.features.tool_contract import needs_emulation, inject_contract
    from lingma_proxy.features.tool_stream import EmulatedToolStream, emulate_response
    from lingma_proxy.features.tool_retry import should_retry, retry_request

    if needs_emulation(req):                      # tools offered, or history has tool calls
        upstream_req = inject_contract(req)       # no tools; contract in system; history as text
        conv = EmulatedToolStream(req)            # the CLIENT's request (it knows the tools)
        for ev in backend_events: out += conv.feed(ev)
        out += conv.finish()
        # non-streaming: emulate_response(ir.accumulate(backend_events), req)
        if should_retry(req, accumulated_text, conv.calls):   # at most once per turn
            req2 = retry_request(req, accumulated_text)      # then inject_contract(req2) again

Tool calls written as text by models on OpenAI-compatible backends (on by default when the
request had tools and the upstream returned no native call)::

    from lingma_proxy.features.text_tool_calls import TextToolCallStream, extract_text_tool_calls

    conv = TextToolCallStream(req)                # feed(ev) -> events, finish() -> events
    resp = extract_text_tool_calls(resp, req)     # non-streaming

Lower-level pieces: ``action_blocks.parse_actions(text, tools)`` (the parser),
``tool_aliases.resolve_tool_name(name, tools)``, ``tool_args.check_arguments(tool, args)``,
``tool_contract.build_contract(tools, tool_choice, parallel)``, ``block_scanner.BlockScanner``.
"""

"""``lingma-proxy doctor``: what IPC discovery found and why, and what to do when it found nothing.

It runs the same discovery the IPC backend runs, prints every location that had something
(and how many were searched), the chosen runtime, transport and endpoint, then connects and
asks for the model list. ``--session`` also opens and deletes a chat session, which tells a
full runtime from the VS Code extension alone (that one lists models but cannot chat).
Exit status 0 when the runtime answered, 1 when not.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import click
import orjson

from .options import pop_settings_flags, settings_options, settings_or_exit

WHAT_TO_DO = """\
What to do:
  - Start QoderCN (the desktop app) and sign in; or open a JetBrains IDE with the Tongyi
    Lingma plugin; or start the Lingma desktop app. Then run `lingma-proxy doctor` again.
  - The runtime writes its address to a .info.json file (QoderCN: ~/.qodercn or the
    QoderCN/SharedClientCache folder of your config directory; JetBrains: ~/.lingma/.info.json).
    If yours is elsewhere, pass --shared-client-info FILE.
  - Or give the address directly: --ws-url ws://127.0.0.1:PORT/ (websocketPort in that file),
    or --pipe PATH (a Windows named pipe or a Unix socket).
  - The VS Code Lingma extension on its own lists models but cannot chat over IPC."""


@click.command()
@settings_options
@click.option("--session", "check_session", is_flag=True, help="also open (and delete) a chat session")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of text")
def doctor(check_session: bool, as_json: bool, **kwargs: Any) -> None:
    """Find the local Lingma / QoderCN runtime and check that it answers."""
    settings = settings_or_exit(pop_settings_flags(kwargs))
    report = asyncio.run(diagnose(settings, check_session))
    if as_json:
        click.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(render(report))
    raise SystemExit(0 if report["ok"] else 1)


async def diagnose(settings: Any, check_session: bool = False) -> dict[str, Any]:
    from ..backends.lingma.ipc.discovery import discover
    from ..backends.lingma.ipc.factory import discovery_options, from_settings
    from ..config import BackendConfig
    from ..errors import ProxyError

    opts = discovery_options(settings)
    disc = await asyncio.to_thread(discover, opts)
    ep = disc.endpoint
    report: dict[str, Any] = {
        "ok": False,
        "configured": {"transport": opts.transport, "ws_url": opts.ws_url, "pipe": opts.pipe,
                       "shared_client_info": opts.shared_client_info, "ipc_socket": opts.ipc_socket},
        "tried": [{"what": w, "outcome": o} for w, o in disc.tried],
        "runtime": None, "models": [], "error": disc.problem or None, "session": None,
    }
    if ep is None:
        return report
    report["runtime"] = {"name": ep.runtime, "kind": ep.kind, "transport": ep.transport,
                         "endpoint": ep.address, "source": ep.source}
    backend = from_settings(BackendConfig("ipc", "ipc", settings.ws_url), settings, discover_fn=lambda _o: disc)
    t0 = time.perf_counter()
    try:
        models = await asyncio.wait_for(backend.list_models(), 20)
        report["connect_ms"] = round((time.perf_counter() - t0) * 1000)
        report["models"] = [{"id": m.id, "key": m.upstream_id} for m in models]
        report["ok"] = True
        if check_session:
            try:
                sid = await backend.probe_session()
                report["session"] = f"ok (opened and deleted {sid})"
            except ProxyError as e:
                report["session"] = e.message
    except (ProxyError, TimeoutError) as e:
        report["error"] = e.message if isinstance(e, ProxyError) else "timed out"
    finally:
        await backend.aclose()
    return report


def render(report: dict[str, Any]) -> str:
    c = report["configured"]
    given = [f"{k}={v}" for k, v in c.items() if v and not (k == "transport" and v == "auto")]
    lines = ["Lingma / QoderCN IPC runtime", "",
             f"Configured: transport {c['transport']}" + (f"; {', '.join(given)}" if given else
                                                          " (nothing else set: searching)"),
             "Looked at:"]
    lines += [f"  {t['what']}: {t['outcome']}" for t in report["tried"]] or ["  (nothing)"]
    rt = report["runtime"]
    if rt is None:
        lines += ["", "No runtime found.", "", WHAT_TO_DO]
        return "\n".join(lines)
    scheme = "qodercn" if rt["kind"] == "qodercn" else "lingma"
    lines += ["", f"Found: {rt['name']}", f"  transport  {rt['transport']}", f"  endpoint   {rt['endpoint']}",
              f"  because    {rt['source']}", f"  images     sent as {scheme}:///agent/file?path=... URIs"]
    if not report["ok"]:
        lines += ["", f"It does not answer: {report['error']}", "", WHAT_TO_DO]
        return "\n".join(lines)
    lines += ["", f"Connected and initialized in {report.get('connect_ms', '?')} ms.",
              f"Models ({len(report['models'])}): " + ", ".join(
                  f"{m['id']}" + (f" ({m['key']})" if m["key"] and m["key"] != m["id"] else "")
                  for m in report["models"])]
    if report["session"] is not None:
        lines.append(f"Chat session check: {report['session']}")
    lines += ["", "Use it: lingma-proxy serve --backend ipc   (clients see the model names above)"]
    return "\n".join(lines)

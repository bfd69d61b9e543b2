"""The Lingma IPC backend: the local Lingma / QoderCN IDE runtime over WebSocket, Unix socket
or Windows named pipe (``Content-Length``-framed JSON-RPC 2.0).

Layers, bottom up: ``framing`` and ``rpc`` (sans I/O), ``discovery`` (pure paths + thin probes),
``prompt``, ``turn`` and ``models`` (sans I/O), ``connection`` (asyncio adapters), ``images``
(temp files), ``backend`` (the lifecycle) and ``factory`` (settings, auto detection).
"""

from .backend import IPCBackend
from .discovery import Discovery, Endpoint, Options, discover
from .factory import detect, from_settings

__all__ = ["Discovery", "Endpoint", "IPCBackend", "Options", "detect", "discover", "from_settings"]

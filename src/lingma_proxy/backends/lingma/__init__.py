"""Lingma backends: the remote cloud API (``remote*`` modules) and the local IDE runtime (IPC)."""

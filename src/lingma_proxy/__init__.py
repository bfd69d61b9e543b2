"""lingma-proxy: one local gateway for every coding agent and every model backend."""

__version__ = "0.1.0"

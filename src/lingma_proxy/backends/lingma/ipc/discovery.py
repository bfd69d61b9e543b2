"""Where the running Lingma / QoderCN runtime listens, and why we think so.

The candidate lists are pure functions of (home, environment, platform); the probing (reading
info files, listing Windows pipes, stat-ing sockets, checking a pid) is a thin layer with
injectable seams so tests run over fake home directories. Every step is recorded in
``Discovery.tried`` for ``lingma-proxy doctor``.

Order (the reference's, with its stale-file weakness fixed):
  1. explicit ``--ws-url`` / ``--pipe`` (and their environment variables);
  2. the "shared client info" file: ``LINGMA_SHARED_CLIENT_INFO``, else every location the
     reference searched (QoderCN before Lingma, JetBrains ``~/.lingma/.info.json``, ``.info.json``
     before the legacy ``.info``). Among valid files, one whose runtime pid is alive wins over a
     stale one left by a closed IDE, and a QoderCN file over a Lingma one;
  3. Windows: named pipes ``lingma-*`` / ``qodercn-*`` (the last in sort order);
     elsewhere: Unix sockets (``LINGMA_IPC_SOCKET`` or the candidate list, the newest wins).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PIPE_PREFIX = "\\\\.\\pipe\\"
INFO_NAMES = (".info.json", ".info")
_SUBDIRS = (
    "", "QoderCN/SharedClientCache", "QoderCN/sharedClientCache", "qodercn/SharedClientCache",
    "Qoder/SharedClientCache", "Qoder/sharedClientCache", "Lingma/SharedClientCache",
    "Lingma/sharedClientCache", "lingma/SharedClientCache", "SharedClientCache", "sharedClientCache",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class InfoFile:
    path: str
    websocket_port: int = 0
    pid: int = 0
    ipc_server_path: str = ""


@dataclass(frozen=True, slots=True)
class Options:
    """What the user configured (settings fields of the same names)."""

    transport: str = "auto"  # auto | websocket | pipe
    ws_url: str = ""
    pipe: str = ""
    shared_client_info: str = ""
    ipc_socket: str = ""


@dataclass(frozen=True, slots=True)
class Endpoint:
    transport: str  # websocket | pipe (Windows named pipe) | unix
    address: str  # ws:// URL, pipe name or socket path
    kind: str  # qodercn | lingma: decides the image URI scheme
    runtime: str  # human label: "QoderCN", "Lingma (JetBrains)", ...
    source: str  # why this endpoint: "--ws-url", "info file ...", ...


@dataclass
class Discovery:
    endpoint: Endpoint | None = None
    info: InfoFile | None = None
    tried: list[tuple[str, str]] = field(default_factory=list)  # (what, outcome)
    problem: str = ""

    def note(self, what: str, outcome: str) -> None:
        self.tried.append((what, outcome))


# ------------------------------------------------------------------------- pure: paths


def user_config_dir(home: Path, env: Mapping[str, str], platform: str) -> Path:
    if platform == "win32":
        return Path(env["APPDATA"]) if env.get("APPDATA") else home / "AppData" / "Roaming"
    if platform == "darwin":
        return home / "Library" / "Application Support"
    xdg = env.get("XDG_CONFIG_HOME", "")
    return Path(xdg) if xdg and os.path.isabs(xdg) else home / ".config"


def base_dirs(home: Path, env: Mapping[str, str], platform: str) -> list[Path]:
    bases = [
        user_config_dir(home, env, platform),
        home / ".qoder-cn" / "shared_client", home / ".qoder-cn" / "vscode", home / ".qoder-cn",
        home / ".qodercn" / "vscode", home / ".qodercn", home / ".lingma" / "vscode", home / ".lingma",
    ]  # fmt: skip
    bases += [Path(env[k]) for k in ("APPDATA", "LOCALAPPDATA", "ProgramData") if env.get(k)]
    return _dedupe(bases, platform)


def info_candidates(home: Path, env: Mapping[str, str], platform: str) -> list[Path]:
    out = [base / sub / name if sub else base / name
           for base in base_dirs(home, env, platform) for sub in _SUBDIRS for name in INFO_NAMES]
    return _dedupe(out, platform)


def socket_candidates(home: Path, platform: str) -> list[Path]:
    support = home / "Library" / "Application Support"
    out = [
        support / "QoderCN/SharedClientCache/qodercn.sock", support / "Qoder/SharedClientCache/qodercn.sock",
        support / "Lingma/SharedClientCache/lingma.sock",
        home / ".qoder-cn/shared_client/qodercn.sock", home / ".qoder-cn/vscode/sharedClientCache/qodercn.sock",
        home / ".qoder-cn/qodercn.sock", home / ".qodercn/vscode/sharedClientCache/qodercn.sock",
        home / ".qodercn/qodercn.sock", home / ".lingma/vscode/sharedClientCache/lingma.sock",
        home / ".lingma/lingma.sock",
    ]  # fmt: skip
    return out if platform == "darwin" else [p for p in out if "Library" not in p.parts]


def _dedupe(paths: list[Path], platform: str) -> list[Path]:
    fold = platform in ("win32", "darwin")  # case-insensitive file systems
    seen: set[str] = set()
    out = []
    for p in paths:
        k = os.path.normpath(str(p))
        k = k.lower() if fold else k
        if k not in seen:
            seen.add(k)
            out.append(p)
    return out


def parse_info(text: str, path: str = "") -> InfoFile | None:
    """A ``.info.json`` (``{"websocketPort", "pid", "ipcServerPath"}``) or legacy ``.info``
    (lines: port, pid, pipe). None unless it names a port or a pipe."""
    s = text.strip().lstrip("\ufeff")
    port = pid = 0
    pipe = ""
    if s.startswith("{"):
        import json

        try:
            obj = json.loads(s)
        except ValueError:
            return None
        if not isinstance(obj, dict):
            return None
        port, pid = _num(obj.get("websocketPort")), _num(obj.get("pid"))
        raw = obj.get("ipcServerPath")
        pipe = raw.strip() if isinstance(raw, str) else ""
    else:
        lines = [ln.strip() for ln in s.splitlines() if ln.strip()]
        port = _num(lines[0]) if lines else 0
        pid = _num(lines[1]) if len(lines) > 1 else 0
        pipe = lines[2] if len(lines) > 2 else ""
    if port <= 0 and not pipe:
        return None
    return InfoFile(path, max(port, 0), max(pid, 0), pipe)


def _num(v: object) -> int:
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().isdigit():
        return int(v.strip())
    return 0


def pipe_path(name: str, platform: str) -> str:
    """A bare pipe name gets the ``\\\\.\\pipe\\`` prefix on Windows; paths stay as they are."""
    if platform != "win32" or name.startswith("\\\\") or "/" in name:
        return name
    return PIPE_PREFIX + name


def runtime_label(*hints: str) -> tuple[str, str]:
    """(kind, label) from the paths and names the endpoint came from."""
    text = " ".join(_tail(h) for h in hints).lower()
    if "qoder" in text:
        return "qodercn", "QoderCN"
    if "/.lingma/vscode" in text:
        return "lingma", "Lingma (VS Code extension)"
    if "/.lingma/.info" in text:
        return "lingma", "Lingma (JetBrains plugin)"
    return "lingma", "Lingma"


def _tail(path: str) -> str:
    """The last components of a path: the runtime's own directories, not the user's home
    (whose name could contain anything, "qoder" included)."""
    return "/" + "/".join(path.replace("\\", "/").split("/")[-4:])


def ws_url_for(port: int) -> str:
    return f"ws://127.0.0.1:{port}/"


# ------------------------------------------------------------------------- thin probing


@dataclass
class Probes:
    """The I/O seams (tests replace them)."""

    read_text: Callable[[Path], str] = lambda p: p.read_text(encoding="utf-8", errors="replace")
    list_pipes: Callable[[], list[str]] = lambda: os.listdir(PIPE_PREFIX) if sys.platform == "win32" else []
    pid_alive: Callable[[int], bool | None] = field(default=lambda pid: _pid_alive(pid))


def _pid_alive(pid: int) -> bool | None:
    """True/False when it can be told, None when not (Windows, or no permission to ask)."""
    if pid <= 0 or sys.platform == "win32":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return None
    return True


def _socket_mtime(p: Path) -> float | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return None if stat.S_ISDIR(st.st_mode) else st.st_mtime


def read_info_files(paths: list[Path], disc: Discovery, probes: Probes) -> list[tuple[InfoFile, bool | None]]:
    found = []
    for p in paths:
        if not p.is_file():
            continue
        try:
            info = parse_info(probes.read_text(p), str(p))
        except OSError as e:
            disc.note(str(p), f"unreadable ({e.strerror or type(e).__name__})")
            continue
        if info is None:
            disc.note(str(p), "no websocketPort or ipcServerPath in it: skipped")
            continue
        alive = probes.pid_alive(info.pid)
        state = {True: "running", False: "NOT running (stale file)", None: "unknown"}[alive]
        bits = [f"port {info.websocket_port}"] if info.websocket_port else []
        bits += [f"ipcServerPath {info.ipc_server_path}"] if info.ipc_server_path else []
        what = ", ".join(bits)
        disc.note(str(p), f"{what}; pid {info.pid or '?'} {state}")
        found.append((info, alive))
    return found


def choose_info(found: list[tuple[InfoFile, bool | None]]) -> InfoFile | None:
    """Alive before unknown before stale; QoderCN before Lingma; then search order."""
    if not found:
        return None
    rank = {True: 0, None: 1, False: 2}
    order = sorted(range(len(found)), key=lambda i: (
        rank[found[i][1]], 0 if "qoder" in _tail(found[i][0].path).lower() else 1, i))
    return found[order[0]][0]


def discover(opts: Options, *, home: Path | None = None, env: Mapping[str, str] | None = None,
             platform: str | None = None, probes: Probes | None = None) -> Discovery:
    """Find the runtime's endpoint (see the module docstring). Never raises."""
    home = home or Path.home()
    env = os.environ if env is None else env
    platform = platform or sys.platform
    probes = probes or Probes()
    disc = Discovery()
    want = opts.transport
    if opts.ws_url and want in ("auto", "websocket"):
        kind, label = runtime_label(opts.ws_url, opts.shared_client_info)
        disc.endpoint = Endpoint("websocket", opts.ws_url, kind, label, "--ws-url / LINGMA_PROXY_WS_URL")
        disc.note("--ws-url", opts.ws_url)
        return disc
    if opts.pipe and want in ("auto", "pipe"):
        path = pipe_path(opts.pipe, platform)
        kind, label = runtime_label(path)
        disc.endpoint = Endpoint("pipe" if platform == "win32" else "unix", path, kind, label,
                                 "--pipe / LINGMA_IPC_PIPE")
        disc.note("--pipe", path)
        return disc
    if opts.shared_client_info:
        paths = [Path(os.path.expanduser(opts.shared_client_info))]
        if not paths[0].is_file():
            disc.note(str(paths[0]), "LINGMA_SHARED_CLIENT_INFO names a file that does not exist")
    else:
        paths = info_candidates(home, env, platform)
        disc.note(f"{len(paths)} info-file locations", "searched (QoderCN first, then Lingma)")
    info = choose_info(read_info_files(paths, disc, probes))
    disc.info = info
    hints = [info.path] if info else []
    if platform == "win32":
        _windows(disc, opts, info, probes, hints)
    else:
        _unix(disc, opts, info, home, platform, hints)
    if disc.endpoint is None:
        disc.problem = _problem(opts, info)
    return disc


def _windows(disc: Discovery, opts: Options, info: InfoFile | None, probes: Probes, hints: list[str]) -> None:
    if opts.transport in ("auto", "pipe"):
        pipe = pipe_path(info.ipc_server_path, "win32") if info and info.ipc_server_path else ""
        source = f"ipcServerPath in {info.path}" if pipe and info else ""
        if not pipe:
            try:
                names = sorted(n for n in probes.list_pipes() if n.lower().startswith(("lingma-", "qodercn-")))
            except OSError:
                names = []
            disc.note("\\\\.\\pipe\\ lingma-* / qodercn-*", ", ".join(names) or "none")
            if names:
                pipe, source = PIPE_PREFIX + names[-1], "named-pipe scan"
        if pipe:
            kind, label = runtime_label(pipe, *hints)
            disc.endpoint = Endpoint("pipe", pipe, kind, label, source)
            return
    if info and info.websocket_port and opts.transport in ("auto", "websocket"):
        kind, label = runtime_label(*hints)
        disc.endpoint = Endpoint("websocket", ws_url_for(info.websocket_port), kind, label,
                                 f"websocketPort in {info.path}")


def _unix(disc: Discovery, opts: Options, info: InfoFile | None, home: Path, platform: str,
          hints: list[str]) -> None:
    if info and info.websocket_port and opts.transport in ("auto", "websocket"):
        kind, label = runtime_label(*hints)
        disc.endpoint = Endpoint("websocket", ws_url_for(info.websocket_port), kind, label,
                                 f"websocketPort in {info.path}")
        return
    if opts.transport not in ("auto", "pipe"):
        return
    if info and info.ipc_server_path and not info.ipc_server_path.startswith("\\\\"):
        kind, label = runtime_label(info.ipc_server_path, *hints)
        disc.endpoint = Endpoint("unix", info.ipc_server_path, kind, label, f"ipcServerPath in {info.path}")
        return
    cands = [Path(os.path.expanduser(opts.ipc_socket))] if opts.ipc_socket else socket_candidates(home, platform)
    best: tuple[float, Path] | None = None
    for p in cands:
        mtime = _socket_mtime(p)
        if mtime is not None:
            disc.note(str(p), "socket present")
            if best is None or mtime > best[0]:
                best = (mtime, p)
    if best is None:
        disc.note(f"{len(cands)} socket locations", "none present")
        return
    kind, label = runtime_label(str(best[1]))
    disc.endpoint = Endpoint("unix", str(best[1]), kind, label, "newest socket")


def _problem(opts: Options, info: InfoFile | None) -> str:
    if info is not None and opts.transport != "auto":
        return (f"the runtime's info file {info.path} offers no {opts.transport} endpoint; "
                "try --transport auto")
    return ("no running Lingma / QoderCN runtime found: start QoderCN, or the Lingma plugin in "
            "JetBrains or VS Code, or the Lingma desktop app, and sign in; or pass --ws-url "
            "ws://127.0.0.1:PORT/ (the port is in the runtime's .info.json) or --pipe PATH")


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "wss" else 80)

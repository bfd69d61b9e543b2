"""The two servers under test, each in its own process, on free loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in kB."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / _TICK, total / _TICK


def busy_share(seconds: float = 1.0) -> float:
    """Share of the machine's CPU (0..1) in use over the next ``seconds``."""
    b0, t0 = machine_cpu()
    time.sleep(seconds)
    b1, t1 = machine_cpu()
    return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


class Proc:
    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None, stdout_pipe: bool = False) -> None:
        self.name = name
        self.log = log
        self._log_fh = open(log, "wb")  # noqa: SIM115 - lives as long as the process
        self.popen = subprocess.Popen(
            argv, stdout=subprocess.PIPE if stdout_pipe else self._log_fh, stderr=self._log_fh,
            env=env, cwd=cwd, start_new_session=True,
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT (graceful: lets a profiler write its file), then SIGKILL; our own pid only."""
        if self.alive():
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        if self.popen.stdout is not None:
            self.popen.stdout.close()
        self._log_fh.close()

    def tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def start_upstream(logdir: Path) -> tuple[Proc, str]:
    proc = Proc("upstream", [sys.executable, str(HERE / "upstream.py"), "--port", "0"],
                logdir / "upstream.log", stdout_pipe=True)
    assert proc.popen.stdout is not None
    line = proc.popen.stdout.readline().decode().strip()  # "" if it died
    if not line.startswith("listening on "):
        proc.stop()
        raise RuntimeError(f"the benchmark upstream did not start: {line!r}\n{proc.tail()}")
    return proc, line.removeprefix("listening on ")


def proxy_command() -> list[str]:
    script = Path(sys.executable).with_name("lingma-proxy")
    if script.exists():
        return [sys.executable, str(script)]  # the console script, run by this same interpreter
    found = shutil.which("lingma-proxy")
    if found:
        return [found]
    return [sys.executable, "-c", "from lingma_proxy.cli.main import main; main()"]


def start_proxy(upstream_url: str, logdir: Path, profile_to: Path | None = None,
                command: list[str] | None = None, extra: list[str] | None = None) -> tuple[Proc, str]:
    port = free_port()
    argv = command or proxy_command()
    if profile_to is not None:
        argv = [argv[0], "-m", "cProfile", "-o", str(profile_to), *argv[1:]]
    argv += [
        "serve", "--backend", "openai", "--openai-base-url", upstream_url + "/v1",
        "--model", "bench-model", "--host", "127.0.0.1", "--port", str(port),
        "--max-concurrent", "256", "--log-level", "warning", *(extra or []),
    ]
    # A clean configuration: no config file from the cwd or ~/.config, no LINGMA_PROXY_* env.
    home = logdir / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINGMA_PROXY_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               PYTHONUNBUFFERED="1")
    proc = Proc("proxy", argv, logdir / "proxy.log", env=env, cwd=home)
    return proc, f"http://127.0.0.1:{port}"


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: ignore http_proxy


def wait_http(proc: Proc, url: str, timeout: float = 30.0) -> float:
    """Seconds until ``url`` answers any HTTP status; raises if the process dies or times out."""
    start = time.monotonic()
    while True:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            with _OPENER.open(url, timeout=2):
                return time.monotonic() - start
        except urllib.error.HTTPError:
            return time.monotonic() - start
        except OSError:
            pass
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"{proc.name} did not answer {url} within {timeout:g} s:\n{proc.tail()}")
        time.sleep(0.05)

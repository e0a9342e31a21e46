"""Load on a real local server: 16 concurrent clients for 30 s, predict and explain(cam+gradcam);
then two hostile clients: a 1 GB chunked upload and a crowd of slow clients.

Starts `skinxai serve` on 127.0.0.1 (a free port, its temporary files in a folder of its own),
measures one request's latency alone, then the concurrent load: requests/s, p50/p95/p99
latency, error count, deliberate 503s. The chunked scenario streams 1 GiB without a declared
length and records when the 413 arrives, the server's peak memory and the peak size of its
temporary (spooled) upload files; the slow scenario holds 32 connections that trickle a body
at a few bytes a second while a normal client keeps predicting. Prints tables and writes
benchmarks/results/serve_load.json. Run: .venv/bin/python benchmarks/serve_load.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import select
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from skinxai.serve.local import free_port

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = {
    "predict": ("/api/v1/predict", {}),
    "explain cam+gradcam": ("/api/v1/explain", {"methods": "cam,gradcam"}),
}


def wait_ready(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("server exited during start-up")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise SystemExit("server did not start")


async def single_latency(base: str, image: bytes, repeats: int = 5) -> dict[str, float]:
    result = {}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for name, (path, params) in ENDPOINTS.items():
            times = []
            for _ in range(repeats + 1):
                started = time.perf_counter()
                response = await client.post(path, files={"file": ("x.jpg", image)}, params=params)
                response.raise_for_status()
                times.append(time.perf_counter() - started)
            result[name] = statistics.median(times[1:])
    return result


async def load(base: str, image: bytes, clients: int, seconds: float) -> dict:
    records: list[tuple[str, int, float]] = []
    stop = time.monotonic() + seconds

    async def client_loop(index: int) -> None:
        names = list(ENDPOINTS)
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            turn = index
            while time.monotonic() < stop:
                name = names[turn % len(names)]
                path, params = ENDPOINTS[name]
                started = time.perf_counter()
                try:
                    response = await client.post(
                        path, files={"file": ("x.jpg", image)}, params=params
                    )
                    status = response.status_code
                except httpx.HTTPError:
                    status = -1
                records.append((name, status, time.perf_counter() - started))
                if status == 503:
                    await asyncio.sleep(0.2)  # back off, as a polite client would
                else:
                    turn += 1

    started = time.perf_counter()
    await asyncio.gather(*(client_loop(i) for i in range(clients)))
    elapsed = time.perf_counter() - started
    summary: dict = {"seconds": elapsed, "clients": clients, "endpoints": {}}
    for name in ENDPOINTS:
        ok = [t for n, s, t in records if n == name and s == 200]
        summary["endpoints"][name] = {
            "ok": len(ok),
            "requests_per_second": len(ok) / elapsed,
            "p50_s": float(np.percentile(ok, 50)) if ok else None,
            "p95_s": float(np.percentile(ok, 95)) if ok else None,
            "p99_s": float(np.percentile(ok, 99)) if ok else None,
            "deliberate_503": sum(1 for n, s, _ in records if n == name and s == 503),
            "errors": sum(1 for n, s, _ in records if n == name and s not in (200, 503)),
        }
    summary["errors"] = sum(e["errors"] for e in summary["endpoints"].values())
    summary["server_5xx_other_than_503"] = sum(1 for _, s, _ in records if s >= 500 and s != 503)
    return summary


class ServerWatch:
    """Samples a server process every 10 ms: resident memory and the bytes held in its open
    temporary files (uploads spooled to disk are unlinked files, seen only through /proc)."""

    def __init__(self, pid: int, temp_dir: Path) -> None:
        self.pid, self.temp_dir = pid, str(temp_dir)
        self.peak_rss = self.peak_spooled = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def spooled(self) -> int:
        total = 0
        for fd in os.scandir(f"/proc/{self.pid}/fd"):
            try:
                if os.readlink(fd.path).startswith(self.temp_dir):
                    total += os.stat(fd.path).st_size
            except OSError:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, self.rss())
                self.peak_spooled = max(self.peak_spooled, self.spooled())
            except OSError:
                pass
            time.sleep(0.01)

    def __enter__(self) -> ServerWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def chunked_upload(port: int, watch: ServerWatch, total: int = 2**30) -> dict:
    """Stream ``total`` bytes as a chunked multipart upload until the server answers, then go
    on pushing (for at most 5 s) to see how much more the server takes before it closes."""
    chunk = b"\xff" * 2**20
    head = (
        f"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    part = b"--b\r\nContent-Disposition: form-data; name=file; filename=x.jpg\r\n\r\n"
    sent, answer, started = 0, b"", time.perf_counter()
    rss_before = watch.rss()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + f"{len(part):x}\r\n".encode() + part + b"\r\n")
        while sent < total:
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
            if select.select([sock], [], [], 0)[0]:
                break
        sock.settimeout(30)
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except OSError:
            pass
        answered = time.perf_counter() - started
        after, closed = _push_after_answer(sock, chunk)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else None
    return {
        "bytes_offered": total,
        "bytes_sent_before_answer": sent,
        "bytes_accepted_after_answer": after,
        "connection_closed_after_answer": closed,
        "answer_says_connection_close": b"connection: close" in answer.lower(),
        "status": status,
        "seconds_to_answer": answered,
        "server_peak_rss_growth_bytes": watch.peak_rss - rss_before,
        "server_peak_spooled_bytes": watch.peak_spooled,
    }


def _push_after_answer(sock: socket.socket, chunk: bytes, seconds: float = 5.0) -> tuple[int, bool]:
    """Bytes the server still takes after its answer, and whether it closed the connection
    (the send fails) within ``seconds``."""
    sock.settimeout(1)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    after, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            after += sock.send(framed)
        except TimeoutError:
            continue
        except OSError:
            return after, True
    return after, False


def large_photos() -> dict[str, bytes]:
    """A real HAM10000 lesion enlarged to 7000x7000 (49 megapixels) as a JPEG, and the 16-bit
    7000x7000 grey PNG of the bad-input corpus (0.1 MB on disk, 98 MB decoded)."""
    import io

    from PIL import Image
    from tests.bad_input_corpus import grey_16bit_7000

    from skinxai.data.paths import shared_data_dir

    lesion = Image.open(shared_data_dir() / "ham10000" / "images" / "ISIC_0024313.jpg")
    buffer = io.BytesIO()
    lesion.convert("RGB").resize((7000, 7000), Image.Resampling.BICUBIC).save(
        buffer, "JPEG", quality=90
    )
    return {"49 MP JPEG": buffer.getvalue(), "49 MP 16-bit PNG": grey_16bit_7000()}


def large_uploads(base: str, watch: ServerWatch, photos: dict[str, bytes], concurrent: int) -> dict:
    """Peak server memory for one large upload at a time (predict and explain), then for
    ``concurrent`` at once, and the resident memory 2 s after each."""
    rows = {}

    def measured(name: str, requests: list[tuple[str, bytes]]) -> None:
        time.sleep(1.0)
        before = watch.rss()
        watch.peak_rss = before

        async def send_all() -> list[int]:
            async with httpx.AsyncClient(base_url=base, timeout=300) as client:
                answers = await asyncio.gather(
                    *(client.post(path, files={"file": ("x", data)}) for path, data in requests)
                )
                return [a.status_code for a in answers]

        statuses = asyncio.run(send_all())
        time.sleep(2.0)
        rows[name] = {
            "statuses": statuses,
            "rss_before_bytes": before,
            "peak_rss_growth_bytes": watch.peak_rss - before,
            "rss_2s_after_bytes": watch.rss(),
        }

    for label, data in photos.items():
        for endpoint in ("/api/v1/predict", "/api/v1/explain"):
            measured(f"{label} {endpoint.rsplit('/', 1)[1]}", [(endpoint, data)])
    jpeg = photos["49 MP JPEG"]
    measured(f"{concurrent} x 49 MP JPEG predict at once", [("/api/v1/predict", jpeg)] * concurrent)
    return rows


async def slow_clients(base: str, port: int, image: bytes, count: int, seconds: float) -> dict:
    """``count`` connections trickle a multipart body (8 bytes every 0.5 s) while one normal
    client predicts in a loop; the normal client's latency is the measure."""
    stop = time.monotonic() + seconds

    async def trickle() -> None:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"POST /api/v1/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n"
            "Content-Length: 1000000\r\n\r\n".encode()
        )
        try:
            while time.monotonic() < stop:
                writer.write(b"\xff" * 8)
                await writer.drain()
                await asyncio.sleep(0.5)
        except OSError:
            pass
        finally:
            writer.close()

    async def normal() -> list[float]:
        times = []
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            while time.monotonic() < stop:
                started = time.perf_counter()
                response = await client.post("/api/v1/predict", files={"file": ("x.jpg", image)})
                times.append((response.status_code, time.perf_counter() - started))
        return times

    results = await asyncio.gather(normal(), *(trickle() for _ in range(count)))
    served = results[0]
    ok = [t for status, t in served if status == 200]
    return {
        "slow_connections": count,
        "seconds": seconds,
        "normal_requests": len(served),
        "normal_ok": len(ok),
        "normal_p50_s": float(np.percentile(ok, 50)) if ok else None,
        "normal_p95_s": float(np.percentile(ok, 95)) if ok else None,
    }


def start_server(port: int, temp_dir: Path, *options: str) -> subprocess.Popen:
    """`skinxai serve` with its temporary files and its log (stderr) in ``temp_dir``."""
    return subprocess.Popen(
        [sys.executable, "-m", "skinxai.cli", "serve", "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=(temp_dir / f"server-{port}.log").open("w"),
        env={**os.environ, "TMPDIR": str(temp_dir)},
    )


def tracebacks(temp_dir: Path) -> int:
    """Tracebacks in the servers' logs (the answers themselves never carry one)."""
    return sum(log.read_text().count("Traceback") for log in temp_dir.glob("server-*.log"))


def print_load_table(summary: dict, single: dict, clients: int) -> None:
    table = Table(title=f"{clients} clients for {summary['seconds']:.0f} s on 127.0.0.1")
    for column in (
        "endpoint",
        "single s",
        "ok",
        "req/s",
        "p50 s",
        "p95 s",
        "p99 s",
        "p95 / single",
        "503",
        "errors",
    ):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for name, row in summary["endpoints"].items():
        row["single_request_s"] = single[name]
        row["p95_over_single"] = row["p95_s"] / single[name] if row["p95_s"] else None
        table.add_row(
            name,
            f"{single[name]:.3f}",
            str(row["ok"]),
            f"{row['requests_per_second']:.2f}",
            *(
                f"{row[k]:.3f}" if row[k] is not None else "n/a"
                for k in ("p50_s", "p95_s", "p99_s")
            ),
            f"{row['p95_over_single']:.2f}" if row["p95_over_single"] else "n/a",
            str(row["deliberate_503"]),
            str(row["errors"]),
        )
    Console(width=160).print(table)


def print_hostile_table(chunked: dict, slow: dict, single_predict: float) -> None:
    table = Table(title="hostile clients (default 20 MB upload limit)")
    table.add_column("scenario")
    table.add_column("result", justify="right")
    mib = 2**20
    table.add_row("1 GiB chunked upload: answer", str(chunked["status"]))
    table.add_row(
        "  MiB sent by the client before the answer",
        f"{chunked['bytes_sent_before_answer'] / mib:.0f}",
    )
    table.add_row("  seconds to the answer", f"{chunked['seconds_to_answer']:.2f}")
    table.add_row(
        "  MiB the server took after answering (then closed)",
        f"{chunked['bytes_accepted_after_answer'] / mib:.1f} "
        f"({'yes' if chunked['connection_closed_after_answer'] else 'NO'})",
    )
    table.add_row(
        "  server peak spooled upload, MiB", f"{chunked['server_peak_spooled_bytes'] / mib:.1f}"
    )
    table.add_row(
        "  server peak memory growth, MiB", f"{chunked['server_peak_rss_growth_bytes'] / mib:.1f}"
    )
    table.add_row(
        f"{slow['slow_connections']} slow clients: normal requests ok",
        f"{slow['normal_ok']} / {slow['normal_requests']}",
    )
    table.add_row(
        "  normal p50 / p95 s (alone: single)",
        f"{slow['normal_p50_s']:.3f} / {slow['normal_p95_s']:.3f} ({single_predict:.3f})",
    )
    Console(width=160).print(table)


def print_large_table(large: dict, workers: int) -> None:
    table = Table(title=f"large uploads (--workers {workers}): server memory, MiB")
    for column in ("upload", "answers", "before", "peak growth", "2 s after"):
        table.add_column(column, justify="left" if column == "upload" else "right")
    mib = 2**20
    for name, row in large.items():
        table.add_row(
            name,
            " ".join(str(s) for s in sorted(set(row["statuses"]))),
            f"{row['rss_before_bytes'] / mib:.0f}",
            f"{row['peak_rss_growth_bytes'] / mib:.0f}",
            f"{row['rss_2s_after_bytes'] / mib:.0f}",
        )
    Console(width=160).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serve_load.json"))
    parser.add_argument("--large-workers", type=int, default=4)
    parser.add_argument("--large-concurrent", type=int, default=8)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    sys.path.insert(0, str(ROOT))
    from skinxai.data.specs import resolve_spec

    image = resolve_spec("fanconic:test")[400].path.read_bytes()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="skinxai-serve-tmp-") as temp:
        process = start_server(port, Path(temp))
        try:
            wait_ready(base, process)
            single = asyncio.run(single_latency(base, image))
            summary = asyncio.run(load(base, image, args.clients, args.seconds))
            with ServerWatch(process.pid, Path(temp)) as watch:
                chunked = chunked_upload(port, watch)
            slow = asyncio.run(slow_clients(base, port, image, 32, 20.0))
            healthy = httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=30)
        large, large_healthy = run_large_uploads(Path(temp), args)
        logged_tracebacks = tracebacks(Path(temp))
    print_load_table(summary, single, args.clients)
    print_hostile_table(chunked, slow, single["predict"])
    print_large_table(large, args.large_workers)
    server_errors = sum(row["errors"] for row in summary["endpoints"].values())
    print(
        f"5xx or failed answers under load: {server_errors}; tracebacks logged: {logged_tracebacks}"
    )
    payload = {
        "machine": platform.platform(),
        **summary,
        "chunked_1gib_upload": chunked,
        "slow_clients": slow,
        "large_uploads": {"workers": args.large_workers, **large},
        "healthy_after": healthy and large_healthy,
        "server_tracebacks_logged": logged_tracebacks,
    }
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


def run_large_uploads(temp: Path, args: argparse.Namespace) -> tuple[dict, bool]:
    """A server of its own with ``--large-workers`` inference threads (queue room for every
    concurrent upload), watched while the large photos go in."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    queue = str(max(3, args.large_concurrent))
    process = start_server(port, temp, "--workers", str(args.large_workers), "--queue", queue)
    try:
        wait_ready(base, process)
        with ServerWatch(process.pid, temp) as watch:
            large = large_uploads(base, watch, large_photos(), args.large_concurrent)
        return large, httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=30)


if __name__ == "__main__":
    main()

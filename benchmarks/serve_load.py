"""Load on a real local server: 16 concurrent clients for 30 s, predict and explain(cam+gradcam).

Starts `skinxai serve` on 127.0.0.1 (a free port), measures one request's latency alone, then
the concurrent load: requests/s, p50/p95/p99 latency, error count, deliberate 503s. Prints a
table and writes benchmarks/results/serve_load.json. Run: .venv/bin/python benchmarks/serve_load.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
ENDPOINTS = {
    "predict": ("/api/v1/predict", {}),
    "explain cam+gradcam": ("/api/v1/explain", {"methods": "cam,gradcam"}),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "serve_load.json"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from skinxai.data.specs import resolve_spec

    image = resolve_spec("fanconic:test")[400].path.read_bytes()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "skinxai.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(base, process)
        single = asyncio.run(single_latency(base, image))
        summary = asyncio.run(load(base, image, args.clients, args.seconds))
    finally:
        process.terminate()
        process.wait(timeout=30)
    table = Table(title=f"{args.clients} clients for {summary['seconds']:.0f} s on 127.0.0.1")
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
    payload = {"machine": platform.platform(), **summary}
    Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

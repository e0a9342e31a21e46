"""``skinxai serve``: the web page and the JSON API on one uvicorn server."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from skinxai.cli.app import errors
from skinxai.cli.common import ModelOption, PrecisionOption, fail

AllowedHosts = Annotated[
    str | None,
    typer.Option(
        help="Comma-separated Host header values to serve (example.org, *.example.org, *); "
        "default: the bound address and localhost (any host when bound to 0.0.0.0)."
    ),
]


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    model: ModelOption = None,
    max_upload_mb: Annotated[int, typer.Option(min=1, max=200)] = 20,
    queue: Annotated[int, typer.Option(min=1, max=256, help="Requests waiting or running.")] = 3,
    workers: Annotated[int, typer.Option(min=1, max=8, help="Inference threads.")] = 1,
    allowed_hosts: AllowedHosts = None,
    precision: PrecisionOption = "auto",
) -> None:
    """Start the web page (/) and JSON API (/api/v1, docs at /docs)."""
    import uvicorn

    from skinxai.serve import create_app

    if model is not None and not model.is_file():
        raise fail(f"model file '{model}' does not exist")
    hosts = _served_hosts(host, allowed_hosts)
    try:
        application = create_app(
            model, max_upload_mb * 2**20, queue, workers, hosts, precision=precision
        )
    except ValueError as exc:  # a ModelFileError, or a precision that is not auto, 32 or bf16
        raise fail(str(exc)) from None
    listener = listening_socket(host, port)
    shown = f"[{host}]" if ":" in host else host
    errors.print(f"serving on http://{shown}:{port} (Ctrl-C to stop)", highlight=False)
    server = uvicorn.Server(uvicorn.Config(application, host=host, port=port, log_level="info"))
    server.run(sockets=[listener])


def _served_hosts(host: str, allowed_hosts: str | None) -> list[str]:
    """The Host header values to serve; a note when any host is served by default."""
    from skinxai.serve.guards import default_allowed_hosts

    if allowed_hosts:
        return [h.strip() for h in allowed_hosts.split(",") if h.strip()]
    hosts = default_allowed_hosts(host)
    if hosts == ["*"]:
        errors.print(
            f"[yellow]note:[/] bound to {host}: any Host header is served; "
            "set --allowed-hosts to the names clients use",
            highlight=False,
        )
    return hosts


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` for uvicorn, or one error line and exit 2 when the
    address is unknown or taken (uvicorn itself would exit 3)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise fail(f"cannot listen on {host!r}: not an address of this machine ({exc})") from None
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return listener

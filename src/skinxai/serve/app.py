"""FastAPI app: /api/v1/predict, /api/v1/explain, /api/v1/model, /healthz, the page at /.

Uploads are bounded (413), bad images get 415/422 with the reason from ``skinxai.io``,
inference runs in a worker thread behind a bounded queue (503 when full), and no stack trace
ever reaches a client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

import skinxai
from skinxai.explain import METHODS
from skinxai.explain.core import parse_target
from skinxai.explain.descriptions import METHOD_DESCRIPTIONS, WHAT_YOU_ARE_LOOKING_AT
from skinxai.io import ImageInputError, NotAnImageError
from skinxai.model import SkinClassifier, default_model_path, load_default_model, load_model_file
from skinxai.model_config import ModelOutputError
from skinxai.serve import inference
from skinxai.serve.guards import RequestGuards, max_body_bytes, upload_limit_detail
from skinxai.serve.memory import release_freed_memory

logger = logging.getLogger("skinxai.serve")
INTENDED_USE = "Research tool, not a medical device."
DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024


class ApiError(Exception):
    """An error with an HTTP status and a machine-readable code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _error(status: int, code: str, detail: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


class InferenceQueue:
    """At most ``capacity`` requests waiting or running; the rest are refused with 503."""

    def __init__(self, capacity: int, workers: int) -> None:
        self.capacity = capacity
        self.pending = 0
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inference")

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.pending >= self.capacity:
            raise ApiError(503, "busy", "the server is busy; retry in a moment")
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.executor, _then_release_memory, fn, *args
            )
        finally:
            self.pending -= 1


def _then_release_memory(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` in the inference thread, then hand the memory it freed back to the system."""
    try:
        return fn(*args)
    finally:
        release_freed_memory()


def _model_summary(model: SkinClassifier, model_path: Path | None) -> dict:
    card = None
    if model_path is None and default_model_path().is_file():
        card_path = default_model_path().with_name("MODEL_CARD.md")
        card = card_path.read_text() if card_path.is_file() else None
    config = model.config
    return {
        "version": config.version,
        "inference_precision": model.precision,
        "backbone": config.backbone,
        "input_size": config.input_size,
        "class_names": list(config.class_names),
        "threshold": config.threshold,
        "temperature": config.temperature,
        "bias": config.bias,
        "beta_shape": config.beta_shape,
        "operating_point": config.operating_point,
        "uncertain_band": config.uncertain_band,
        "calibration": config.calibration,
        "trained": config.trained,
        "methods": list(METHODS),
        "method_descriptions": {m: METHOD_DESCRIPTIONS[m] for m in METHODS},
        "what_you_are_looking_at": WHAT_YOU_ARE_LOOKING_AT,
        "intended_use": INTENDED_USE,
        "model_card_markdown": card,
        "concept_readers": _concept_summary(model),
    }


def _concept_summary(model: SkinClassifier) -> dict | None:
    """Which checklist readers the model carries, for the page (None: it has none)."""
    if model.concept_readers is None:
        return None
    from skinxai.concepts.reading import CAVEAT

    return {"layer": model.concept_readers.layer, "note": CAVEAT}


def _install_error_handlers(app: FastAPI, max_upload_bytes: int) -> None:
    """Every error becomes ``{"error": code, "detail": reason}``; none carries a traceback."""

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        headers = {"Retry-After": "1"} if exc.status == 503 else None
        return _error(exc.status, exc.code, exc.detail, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
        )
        return _error(422, "invalid_request", problems or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:  # FastAPI's max_body_size cut a streamed body off
            return _error(413, "upload_too_large", upload_limit_detail(max_upload_bytes))
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return _error(500, "internal_error", "an internal error occurred; it has been logged")


def _chosen_methods(methods: str) -> list[str]:
    """The comma-separated ``methods`` query as a list the API serves (1 to 4, no Score-CAM).
    Names are taken as sent: ``gradcam++`` unencoded arrives as ``gradcam`` and two spaces
    (a ``+`` in a query string is a space), which is refused by name, never read as gradcam."""
    chosen = [m.lower() for m in methods.split(",")]
    unknown = [m for m in chosen if m not in METHODS]
    if unknown:
        hint = (
            " (a '+' in a query string means a space: send gradcam++ as gradcam%2B%2B)"
            if any(" " in m for m in unknown)
            else ""
        )
        raise ApiError(
            422,
            "invalid_methods",
            f"unknown method(s) {', '.join(repr(m) for m in unknown)}{hint}; "
            f"choose 1 to 4 of: {', '.join(METHODS)}",
        )
    if len(chosen) > 4:
        raise ApiError(422, "invalid_methods", f"give 1 to 4 methods, not {len(chosen)}")
    if "scorecam" in chosen:
        raise ApiError(422, "invalid_methods", "scorecam is too slow for the API; use the CLI")
    return chosen


def _api_routes(state: dict[str, Any], max_upload_bytes: int) -> APIRouter:
    """/healthz and /api/v1/*: model summary, predict, explain. A body is cut off at the limit
    while it streams in (FastAPI's ``max_body_size``, here on the routes: inside the guards,
    so its 413 is ours), whether its length was declared or not."""
    router = APIRouter(max_body_size=max_body_bytes(max_upload_bytes))

    async def read_upload(request: Request, file: UploadFile) -> bytes:
        """The one uploaded file's bytes; a second ``file`` part is refused, not dropped."""
        if len((await request.form()).getlist("file")) != 1:
            raise ApiError(422, "invalid_request", "send exactly one image in the 'file' part")
        data = await file.read(max_upload_bytes + 1)
        if len(data) > max_upload_bytes:
            raise ApiError(413, "upload_too_large", upload_limit_detail(max_upload_bytes))
        return data

    async def run_inference(fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return await state["queue"].run(fn, *args)
        except ModelOutputError as exc:
            logger.error("model output not finite: %s", exc)
            raise ApiError(500, exc.code, str(exc)) from None
        except NotAnImageError as exc:
            raise ApiError(415, exc.code, str(exc)) from None
        except ImageInputError as exc:
            raise ApiError(422, exc.code, str(exc)) from None
        except ValueError as exc:
            raise ApiError(422, "invalid_request", str(exc)) from None

    @router.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "model_version": state["model"].config.version}

    @router.get("/api/v1/model")
    async def model_info() -> dict:
        return state["summary"]

    @router.post("/api/v1/predict")
    async def predict(
        request: Request,
        file: Annotated[UploadFile, File(description="A dermoscopic image.")],
    ) -> dict:
        data = await read_upload(request, file)
        return await run_inference(inference.prediction, state["model"], data)

    @router.post("/api/v1/explain")
    async def explain(
        request: Request,
        file: Annotated[UploadFile, File(description="A dermoscopic image.")],
        methods: Annotated[str, Query(description="Comma-separated CAM-family methods.")] = (
            "cam,gradcam"
        ),
        target: Annotated[
            str | None, Query(description="benign, malignant, 0 or 1; default: predicted.")
        ] = None,
        opacity: Annotated[float, Query(ge=0.0, le=1.0)] = 0.4,
        size: Annotated[
            Literal["model", "original"],
            Query(
                description="model: the model's square input; original: the photo as taken "
                "(its aspect ratio, long side at most 1024 px)."
            ),
        ] = "model",
        both_classes: Annotated[
            bool, Query(description="Also return every class's maps (explanations_by_class).")
        ] = False,
        include_overlay: Annotated[
            bool, Query(description="Return blended overlays (false: heat maps only).")
        ] = True,
        concepts: Annotated[
            bool,
            Query(description="Also return the network's 7-point checklist reading (concepts)."),
        ] = False,
    ) -> dict:
        chosen = _chosen_methods(methods)
        if concepts and state["model"].concept_readers is None:
            raise ApiError(422, "no_concept_readers", "this model has no 7-point checklist readers")
        try:
            parsed_target = parse_target(target, state["model"].config.class_names)
        except ValueError as exc:
            raise ApiError(422, "invalid_target", str(exc)) from None
        data = await read_upload(request, file)
        return await run_inference(
            inference.explanation,
            state["model"],
            data,
            chosen,
            parsed_target,
            opacity,
            size,
            both_classes,
            include_overlay,
            concepts,
        )

    _answer_other_methods_with_405(router)
    return router


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _answer_other_methods_with_405(router: APIRouter) -> None:
    """Every other method on an API path is 405 with ``Allow``: without these routes the page's
    catch-all mount at / would answer them 404, as if the path did not exist. HEAD is answered
    wherever GET is."""
    for route in list(router.routes):
        allowed = set(route.methods)
        if "GET" in allowed:  # its own route, so that the OpenAPI schema lists GET alone
            router.add_api_route(
                route.path, route.endpoint, methods=["HEAD"], include_in_schema=False
            )
            allowed.add("HEAD")
        router.add_api_route(
            route.path,
            _method_not_allowed(sorted(allowed)),
            methods=sorted(HTTP_METHODS - allowed),
            include_in_schema=False,
        )


def _method_not_allowed(allowed: list[str]) -> Callable[[], Any]:
    async def not_allowed() -> JSONResponse:
        shown = " or ".join(m for m in allowed if m != "HEAD")
        return _error(405, "method_not_allowed", f"use {shown} here", {"Allow": ", ".join(allowed)})

    return not_allowed


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI from the files the ``fastapi-offline`` package ships, so /docs works offline
    and under the page's Content-Security-Policy (no CDN, no inline script)."""
    assets = Path(str(resources.files("fastapi_offline") / "static"))
    app.mount("/docs-assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(SWAGGER_PAGE)


SWAGGER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>skinxai API</title>
<link rel="stylesheet" href="/docs-assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs-assets/swagger-ui-bundle.js"></script>
<script src="/docs-init.js"></script></body></html>
"""


def create_app(
    model_path: str | Path | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD,
    queue_capacity: int = 3,
    workers: int = 1,
    allowed_hosts: Sequence[str] = ("127.0.0.1", "localhost", "::1"),
    precision: str = "auto",
) -> FastAPI:
    """Build the app. The model loads here, once, so that a bad model file is a
    :class:`ModelFileError` for the caller, not a failure inside the server's start-up.
    ``allowed_hosts``: the Host header values served (``*`` for any, ``*.example.org``);
    ``precision``: auto, 32 or bf16 (``precision.inference_precision``)."""
    model = (
        load_model_file(model_path, precision=precision)
        if model_path
        else load_default_model(precision=precision)
    )
    state: dict[str, Any] = {
        "model": model,
        "summary": {
            **_model_summary(model, Path(model_path) if model_path else None),
            "max_upload_mb": max_upload_bytes / 2**20,
        },
    }

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        state["queue"] = InferenceQueue(queue_capacity, workers)
        yield
        state["queue"].executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="skinxai",
        summary="Benign/malignant skin-lesion classification with CAM-family explanations. "
        + INTENDED_USE,
        version=skinxai.__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(
        RequestGuards, max_upload_bytes=max_upload_bytes, allowed_hosts=allowed_hosts
    )
    _install_error_handlers(app, max_upload_bytes)
    app.include_router(_api_routes(state, max_upload_bytes))
    _offline_docs(app)
    static = Path(str(resources.files("skinxai.serve") / "static"))
    app.mount("/", StaticFiles(directory=static, html=True), name="page")
    return app

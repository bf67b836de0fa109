"""JSON errors with a stable code and a message in the caller's language (fr/en); no 500 for bad input."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
LANGUAGES = ("fr", "en")


class ApiError(Exception):
    def __init__(self, status: int, code: str, fr: str, en: str, headers: dict[str, str] | None = None,
                 **extra: object) -> None:
        super().__init__(code)
        self.status, self.code, self.messages, self.extra = status, code, {"fr": fr, "en": en}, extra
        self.headers = headers  # e.g. Retry-After


def not_found(what_fr: str, what_en: str) -> ApiError:
    return ApiError(404, "not_found", f"{what_fr} introuvable.", f"{what_en} not found.")


# Sent by a client that shows the answer in another language than the profile's for now: the assistant follows
# the language the user writes in (a user with a French profile chatting in English gets English labels).
DISPLAY_LANGUAGE_HEADER = "X-Display-Language"


def request_language(request: Request) -> str:
    """The client's display language (X-Display-Language) when given, else the authenticated user's language,
    else the first supported Accept-Language."""
    shown = request.headers.get(DISPLAY_LANGUAGE_HEADER, "").strip().lower()
    if shown in LANGUAGES:
        return shown
    lang = getattr(request.state, "lang", None)
    if lang in LANGUAGES:
        return lang
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "fr"


_VALIDATION_MESSAGES = {
    "missing": ("Le champ « {field} » est obligatoire.", "The field '{field}' is required."),
    "string_too_short": (
        "Le champ « {field} » doit contenir au moins {min_length} caractères.",
        "The field '{field}' must have at least {min_length} characters.",
    ),
    "string_too_long": (
        "Le champ « {field} » doit contenir au plus {max_length} caractères.",
        "The field '{field}' must have at most {max_length} characters.",
    ),
    "json_invalid": ("Le corps de la requête n'est pas un JSON valide.", "The request body is not valid JSON."),
    "string_nul": (
        "Le champ « {field} » contient un caractère non autorisé.",
        "The field '{field}' contains a character that is not allowed.",
    ),
    "literal_error": (
        "Valeur non autorisée pour « {field} » (attendu : {expected}).",
        "Value not allowed for '{field}' (expected: {expected}).",
    ),
}
_GENERIC_INVALID = ("La valeur du champ « {field} » est invalide.", "The value of the field '{field}' is invalid.")


def _validation_message(error: dict, lang: str) -> tuple[str, str]:
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path", "header", "form")]
    field = "body" if error.get("type") == "json_invalid" else ".".join(location) or "body"
    templates = _VALIDATION_MESSAGES.get(error.get("type", ""), _GENERIC_INVALID)
    context = {"field": field, **{k: v for k, v in (error.get("ctx") or {}).items()}}
    try:
        message = templates[0 if lang == "fr" else 1].format(**context)
    except (KeyError, IndexError):
        message = _GENERIC_INVALID[0 if lang == "fr" else 1].format(field=field)
    return field, message


def validation_error_response(headers: dict[str, str]) -> JSONResponse:
    """The 422 of a request refused before any route (a NUL character, backend/core/nul.py), in the caller's language
    (X-Display-Language, else Accept-Language)."""
    wanted = (headers.get("x-display-language") or headers.get("accept-language") or "fr").lower()
    fr, en = _VALIDATION_MESSAGES["string_nul"]
    message = (en if wanted.startswith("en") else fr).format(field="body")
    return JSONResponse(status_code=422, content={"code": "validation_error", "message": message,
                                                  "errors": [{"field": "body", "message": message}]})


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        lang = request_language(request)
        return JSONResponse(
            status_code=exc.status,
            content={"code": exc.code, "message": exc.messages[lang], **exc.extra},
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = request_language(request)
        errors = [dict(zip(("field", "message"), _validation_message(e, lang))) for e in exc.errors()]
        return JSONResponse(
            status_code=422,
            content={"code": "validation_error", "message": errors[0]["message"] if errors else "", "errors": errors},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        lang = request_language(request)
        if exc.status_code == 400:  # a body FastAPI could not even decode (not UTF-8...): the same as invalid JSON
            fr, en = _VALIDATION_MESSAGES["json_invalid"]
            message = fr if lang == "fr" else en
            return JSONResponse(status_code=422, content={"code": "validation_error", "message": message,
                                                          "errors": [{"field": "body", "message": message}]})
        if exc.status_code == 404:
            message = "Ressource introuvable." if lang == "fr" else "Resource not found."
            code = "not_found"
        elif exc.status_code == 405:
            message = "Méthode non autorisée." if lang == "fr" else "Method not allowed."
            code = "method_not_allowed"
        else:
            message, code = str(exc.detail), "http_error"
        return JSONResponse(status_code=exc.status_code, content={"code": code, "message": message},
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        """The database cut or refused the connection (a restart, a fail-over): nothing of the request was committed
        (each request is one transaction), the client may send it again; the pool tests its connections before
        lending them (pool_pre_ping), so the next request gets a fresh one once the database is back."""
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        lang = request_language(request)
        message = ("Le portail est momentanément indisponible. Veuillez réessayer dans un instant." if lang == "fr"
                   else "The portal is briefly unavailable. Please try again in a moment.")
        return JSONResponse(status_code=503, content={"code": "database_unavailable", "message": message},
                            headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        lang = request_language(request)
        message = "Erreur interne du portail." if lang == "fr" else "Internal portal error."
        return JSONResponse(status_code=500, content={"code": "internal_error", "message": message})

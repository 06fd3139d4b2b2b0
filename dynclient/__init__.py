"""dynclient: a spec-driven dynamic client for OpenAPI 3.x documents.

    import dynclient
    client = dynclient.Client("openai-2025-04-29.yaml", base_url="http://127.0.0.1:8080/v1")
    client.call("createAssistant", {"model": "gpt-4o"})
"""

from .client import Client
from .core.call import PreparedRequest, Result
from .codecs import Event
from .errors import (APIConnectionError, ConfigError, APIStatusError, APIStreamError, APITimeoutError, AuthenticationError,
                     CertificateVerifyError,
                     BadRequestError, CassetteError, ConflictError, DynclientError, IntegrityError, InternalServerError,
                     NotFoundError, NotOpenAPIError, PaginationError, ParameterError, PermissionDeniedError,
                     RateLimitError, RequestError, RequestValidationError, ResponseDecodeError, RunError,
                     RunInputError, RunStoppedError,
                     ResponseTooLargeError, ResponseValidationError, SchemaCompileError, SpecError, SpecLoadError,
                     UnknownOperationError, UnprocessableEntityError)
from .streaming import Stream
from .core.policy import RetryPolicy, Timeout
from .loader import Document, load
from .spec import Operation, Parameter, Spec
from .version import __version__


__all__ = [
    "__version__",
    "Client", "PreparedRequest", "Result", "Stream", "Paginator", "Event", "RetryPolicy", "Timeout", "Spec", "Operation", "Parameter", "Document", "load",
    "DynclientError", "ConfigError", "SpecError", "SpecLoadError", "NotOpenAPIError", "IntegrityError", "SchemaCompileError",
    "RequestError", "UnknownOperationError", "ParameterError", "RequestValidationError",
    "ResponseValidationError", "APIConnectionError", "APITimeoutError", "CertificateVerifyError", "ResponseDecodeError",
    "ResponseTooLargeError", "APIStreamError", "PaginationError", "CassetteError", "Cassette", "RunError", "RunInputError", "RunStoppedError",
    "APIStatusError", "BadRequestError", "AuthenticationError", "PermissionDeniedError", "NotFoundError",
    "ConflictError", "UnprocessableEntityError", "RateLimitError", "InternalServerError",
]


def __getattr__(name: str):
    import importlib
    if name == "config":   # `dynclient.config.resolve(...)`, imported on first use
        return importlib.import_module(".config", __name__)
    # Not in __all__: they need the optional aiohttp, and `from dynclient import *` must work without it.
    if name in ("AsyncClient", "AsyncStream", "AsyncPaginator"):   # aiohttp is imported only for these
        return getattr(importlib.import_module(".async_client", __name__), name)
    if name == "Cassette":   # imported on first use, as by Client(cassette=...)
        return importlib.import_module(".cassette", __name__).Cassette
    if name == "Paginator":   # imported on first use: a first call never pages
        return importlib.import_module(".pagination", __name__).Paginator
    raise AttributeError(f"module 'dynclient' has no attribute {name!r}")

"""Settings from arguments, the environment and a TOML file: `Client.from_config()`.

Each setting is taken from the first place that has it:

    argument  >  environment  >  file  >  the Client's own default

The file is the first of: the `path` argument, `$DYNCLIENT_CONFIG`, or
`dynclient.toml` in the working directory (only if it exists). The
environment variables are the ones the official `openai` package reads
(OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID) plus
DYNCLIENT_SPEC. As in that package, a variable applies only when no argument
gives the setting; unlike it, an empty variable counts as unset (the package
takes `OPENAI_BASE_URL=""` as a base URL, a bug its maintainers track as
openai/openai-python#2927).

A file names where the key lives (`api_key_env = "NAME"`), never the key
itself: a literal `api_key` is refused unless the file also says
`allow_inline_key = true`, and even then a warning is given. The resolved
value is immutable and its repr never shows the key.
"""

from __future__ import annotations

import difflib
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

import urllib3

from .core.policy import DEFAULT_TIMEOUT, Timeout
from .errors import ConfigError

FILE_NAME = "dynclient.toml"
CONFIG_ENV = "DYNCLIENT_CONFIG"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"

# setting -> the environment variable that may give it
ENVIRONMENT = {
    "spec": "DYNCLIENT_SPEC",
    "base_url": "OPENAI_BASE_URL",
    "organization": "OPENAI_ORG_ID",
    "project": "OPENAI_PROJECT_ID",
}
# Variables meant for OpenAI's API only: never sent to a server of another document
# (the same rule Client.__init__ follows for OPENAI_API_KEY and friends).
OPENAI_ONLY = frozenset({DEFAULT_KEY_ENV, "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"})
# Client keyword arguments that from_config passes through untouched (not settings).
PASS_THROUGH = frozenset({"credentials", "verify", "ca_certs", "pool_maxsize", "proxy"})


class InlineKeyWarning(UserWarning):
    """A configuration file holds an API key in clear text (allowed by `allow_inline_key = true`)."""


# --- checking one value --------------------------------------------------------
# Each checker returns the value in its settled form, or raises ValueError(expected).


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("a non-empty string")
    return value


def _spec_source(value: Any) -> Any:
    """A name, path or URL; as an argument, also a path object or an already loaded Spec."""
    from .spec import Spec
    if isinstance(value, Spec):
        return value
    return _string(os.fspath(value) if isinstance(value, os.PathLike) else value)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("true or false")
    return value


def _retries(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("a whole number >= 0")
    return value


def _validation_mode(value: Any) -> str:
    from .core.call import VALIDATION_MODES
    if value not in VALIDATION_MODES:
        raise ValueError("one of " + ", ".join(repr(m) for m in VALIDATION_MODES))
    return value


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError("a number of seconds > 0")
    return float(value)


def _timeout(value: Any) -> Any:
    """A number (connect and read alike) or {connect, read, total}; a missing part keeps the Client's
    default."""
    if isinstance(value, (Timeout, urllib3.Timeout)):   # as an argument, whatever the Client takes
        return value
    if isinstance(value, tuple) and len(value) in (2, 3):
        value = dict(zip(("connect", "read", "total"), value))
    if isinstance(value, Mapping):
        unknown = set(value) - {"connect", "read", "total"}
        if unknown:
            raise ValueError(f"a table with only 'connect', 'read' and 'total' (not {sorted(unknown)})")
        try:
            return Timeout(*(_seconds(value[part]) if part in value else getattr(DEFAULT_TIMEOUT, part)
                             for part in ("connect", "read", "total")))
        except ValueError:
            raise ValueError("connect, read and total as numbers of seconds > 0") from None
    try:
        return _seconds(value)
    except ValueError:
        raise ValueError("a number of seconds > 0, or a table {connect = ..., read = ..., total = ...}") from None


def _headers(value: Any) -> Mapping[str, str]:
    if not isinstance(value, Mapping):
        raise ValueError("a table of header names to string values")
    for name, text in value.items():
        if not isinstance(text, str):
            raise ValueError(f"a table of header names to string values ({name!r} is {type(text).__name__})")
    return dict(value)


# setting -> checker; also the list of keys a file may hold (with the two below)
CHECKS: dict[str, Callable[[Any], Any]] = {
    "spec": _spec_source,
    "base_url": _string,
    "api_key_env": _string,
    "api_key": _string,
    "organization": _string,
    "project": _string,
    "headers": _headers,
    "timeout": _timeout,
    "max_retries": _retries,
    "validate_requests": _boolean,
    "validate_responses": _validation_mode,
}
FILE_ONLY = {"allow_inline_key": _boolean}
FILE_KEYS = {**CHECKS, **FILE_ONLY}


# --- the resolved value -----------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Resolved settings; None means "not set anywhere: the Client's default applies".

    `origins` says where each setting came from ("argument", "environment
    OPENAI_BASE_URL", "file /p/dynclient.toml", ...); `key_sources` lists the
    environment variables that were looked at for the key, in order.
    """

    spec: Any = None   # a name, path or URL (or a Spec given as an argument)
    base_url: str | None = None
    api_key: Any = field(default=None, repr=False)   # a client.Secret
    organization: str | None = None
    project: str | None = None
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    timeout: float | tuple[float, float] | None = None
    max_retries: int | None = None
    validate_requests: bool | None = None
    validate_responses: str | None = None
    config_file: str | None = None
    origins: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    key_sources: tuple[str, ...] = ()

    def __repr__(self) -> str:   # never the key; say only whether there is one and where from
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in
                          ("spec", "base_url", "organization", "project", "timeout", "max_retries",
                           "validate_requests", "validate_responses", "config_file")
                          if getattr(self, name) is not None)
        key = f"api_key=<set from {self.origins['api_key']}>" if self.api_key is not None else "api_key=None"
        headers = f", headers={sorted(self.headers)}" if self.headers else ""
        return f"Settings({shown}{', ' if shown else ''}{key}{headers})"

    def client_arguments(self) -> dict[str, Any]:
        """Keyword arguments for Client(spec, **...): only the settings that were set."""
        names = ("base_url", "organization", "project", "timeout", "max_retries", "validate_requests",
                 "validate_responses")
        arguments = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        if self.headers:
            arguments["headers"] = dict(self.headers)
        if self.api_key is not None:
            arguments["api_key"] = self.api_key.reveal()
        return arguments


# --- reading the file ---------------------------------------------------------------


def find_file(path: str | os.PathLike | None, environ: Mapping[str, str], cwd: Path) -> Path | None:
    """The file to read: the argument, then $DYNCLIENT_CONFIG (both must exist), then ./dynclient.toml if any."""
    for given, said in ((path, "the path argument"), (environ.get(CONFIG_ENV) or None, f"${CONFIG_ENV}")):
        if given is not None:
            candidate = (cwd / Path(given)).resolve() if not Path(given).is_absolute() else Path(given)
            if not candidate.is_file():
                raise ConfigError(f"configuration file {candidate} (from {said}) does not exist")
            return candidate
    default = cwd / FILE_NAME
    return default if default.is_file() else None


def _toml_reader() -> Any:
    try:
        import tomllib
        return tomllib
    except ImportError:   # Python 3.10
        try:
            import tomli
            return tomli
        except ImportError:
            return None


def read_file(path: Path) -> dict[str, Any]:
    """The file's settings, checked: unknown keys and wrong types are errors naming the key and the file."""
    reader = _toml_reader()
    if reader is None:
        raise ConfigError(f"cannot read {path}: TOML needs Python 3.11+ (tomllib) or the 'tomli' package; "
                          f"install tomli, or pass the settings as arguments or environment variables")
    try:
        with open(path, "rb") as fh:
            table = reader.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except reader.TOMLDecodeError as exc:   # says line and column, never the text around them
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    settled = {}
    for key, value in table.items():
        if key not in FILE_KEYS:
            close = difflib.get_close_matches(key, list(FILE_KEYS), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{path}: unknown key {key!r}{hint} (known keys: {', '.join(FILE_KEYS)})")
        try:
            settled[key] = FILE_KEYS[key](value)
        except ValueError as exc:
            raise ConfigError(f"{path}: {key!r} must be {exc}, not {_shown(key, value)}") from None
    _check_key_settings(path, settled)
    if "spec" in settled:
        settled["spec"] = _spec_beside(path, settled["spec"])
    return settled


def _shown(key: str, value: Any) -> str:
    """How a wrong value is quoted in an error: never a key, nor header values (which may be credentials)."""
    if key in ("api_key", "headers"):
        return type(value).__name__
    return f"{type(value).__name__} {value!r}"


def _check_key_settings(path: Path, settled: dict[str, Any]) -> None:
    """A credential in the file (api_key, or an Authorization-like header) needs allow_inline_key = true."""
    from .core.headers import SENSITIVE_HEADERS
    inline = ["'api_key'"] if "api_key" in settled else []
    inline += [f"header {name!r}" for name in settled.get("headers", {}) if name.lower() in SENSITIVE_HEADERS]
    if "api_key" in settled and "api_key_env" in settled:
        raise ConfigError(f"{path}: set one of 'api_key_env' and 'api_key', not both")
    if not inline:
        return
    if not settled.get("allow_inline_key"):
        raise ConfigError(f"{path}: {' and '.join(inline)} holds a literal credential, which a committed file "
                          f"would leak; name the environment variable that holds the key instead "
                          f"(api_key_env = \"{DEFAULT_KEY_ENV}\"), or add allow_inline_key = true")
    warnings.warn(f"{path} holds a credential in clear text ({', '.join(inline)}; allow_inline_key = true); "
                  f"prefer api_key_env = \"NAME\"", InlineKeyWarning, stacklevel=2)


def _spec_beside(path: Path, spec: str) -> str:
    """A relative spec path in a file is relative to that file; names and URLs stay as they are."""
    from .sources import is_name
    if is_name(spec) or "://" in spec or Path(spec).is_absolute():
        return spec
    return str((path.parent / spec).resolve())


# --- resolving --------------------------------------------------------------------

LAYERED = ("spec", "base_url", "organization", "project", "timeout", "max_retries", "validate_requests",
           "validate_responses")


def resolve(path: str | os.PathLike | None = None, *, environ: Mapping[str, str] | None = None,
            cwd: str | os.PathLike | None = None, openai_environment: bool = True, **arguments: Any) -> Settings:
    """Settings from arguments > environment > file; see the module docstring.

    `arguments` are the settings by name (spec, base_url, api_key, api_key_env,
    organization, project, headers, timeout, max_retries, validate_requests,
    validate_responses); None means "not given". `environ` and `cwd` default
    to the process's own. With `openai_environment=False` the OPENAI_*
    variables are not consulted (for a document of another API); a variable
    the caller names with api_key_env still is.
    """
    from .core.redact import Secret
    environ = os.environ if environ is None else environ
    given = _checked_arguments(arguments)
    config_file = find_file(path, environ, Path(cwd) if cwd is not None else Path.cwd())
    in_file = read_file(config_file) if config_file is not None else {}
    file_origin = f"file {config_file}"

    def from_environment(name: str) -> str | None:
        variable = ENVIRONMENT.get(name)
        if variable is None or (variable in OPENAI_ONLY and not openai_environment):
            return None
        return environ.get(variable) or None   # empty counts as unset

    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name in LAYERED:
        for value, origin in ((given.get(name), "argument"),
                              (from_environment(name), f"environment {ENVIRONMENT.get(name)}"),
                              (in_file.get(name), file_origin)):
            if value is not None:
                values[name], origins[name] = value, origin
                break

    key_env = [(given.get("api_key_env"), "argument api_key_env="),
               (DEFAULT_KEY_ENV if openai_environment else None, "environment "),
               (in_file.get("api_key_env"), f"{file_origin}: api_key_env = ")]
    key, key_origin = given.get("api_key"), "argument"
    looked = []
    for variable, said in key_env:
        if key is not None or variable is None:
            continue
        looked.append(variable)
        key, key_origin = environ.get(variable) or None, said + variable
    if key is None and "api_key" in in_file:
        key, key_origin = in_file["api_key"], f"{file_origin} (inline key)"
    if key is not None:
        values["api_key"], origins["api_key"] = Secret(key), key_origin

    headers = _merged_headers(in_file.get("headers", {}), given.get("headers", {}))
    if headers:
        origins["headers"] = " over ".join(origin for origin, layer in (("argument", given), (file_origin, in_file))
                                           if "headers" in layer)
    return Settings(**values, headers=MappingProxyType(headers),
                    config_file=str(config_file) if config_file else None,
                    origins=MappingProxyType(origins), key_sources=tuple(looked))


def _merged_headers(lower: Mapping[str, str], upper: Mapping[str, str]) -> dict[str, str]:
    """`upper` over `lower`, header by header; names compare case-insensitively, as in HTTP."""
    replaced = {name.lower() for name in upper}
    return {**{k: v for k, v in lower.items() if k.lower() not in replaced}, **upper}


def _checked_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    checked = {}
    for name, value in arguments.items():
        if name not in CHECKS:
            close = difflib.get_close_matches(name, list(CHECKS) + list(PASS_THROUGH), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown setting {name!r}{hint} (settings: {', '.join(CHECKS)})")
        if value is None:
            continue
        try:
            checked[name] = CHECKS[name](value)
        except ValueError as exc:
            raise ConfigError(f"argument {name}= must be {exc}, not {_shown(name, value)}") from None
    return checked


# --- the client ---------------------------------------------------------------------


def client_from_config(client_class: type, path: str | os.PathLike | None = None, **overrides: Any) -> Any:
    """`Client.from_config`: resolve the settings, load the document, build the client.

    The OPENAI_* variables count only for a document whose server is
    OpenAI's (the rule Client.__init__ follows), so an OpenAI key is never
    sent to another API's server.
    """
    from .core.call import serves_openai
    from .sources import default_name
    from .spec import Spec
    passed = {name: overrides.pop(name) for name in list(overrides) if name in PASS_THROUGH}
    settings = resolve(path, **overrides)
    spec = settings.spec if isinstance(settings.spec, Spec) else Spec(settings.spec or default_name())
    if not serves_openai(spec):
        settings = resolve(path, openai_environment=False, **overrides)
    return client_class(spec, **settings.client_arguments(), **passed)

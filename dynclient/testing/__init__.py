"""Testing helpers for code that uses dynclient, all driven by the document itself.

    from dynclient.testing import serve, strategies

- ``serve(spec)``: the mock server in this process on a free loopback port; yields its base URL.
  ``MockServer`` is the same with its state (``server.app.store``) and request log in reach.
  Both take ``overrides={"getRun": {"status": "completed"}}``: fields fixed in an operation's answers.
- ``strategies``: Hypothesis strategies for bodies and parameters (imported on first use; it
  needs the ``hypothesis`` package, a test extra).
- The pytest plugin (``dynclient.testing.pytest_plugin``, registered by entry point) gives the
  ``dynclient_mock`` fixture.
"""

import importlib

from .mock import MockApp, MockServer, serve

__all__ = ["MockApp", "MockServer", "serve", "strategies"]


def __getattr__(name: str):   # `strategies` without importing hypothesis for everyone
    if name == "strategies":
        return importlib.import_module(__name__ + ".strategies")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

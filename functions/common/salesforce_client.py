"""simple-salesforce's client, imported without its Metadata API and JWT modules, which SalesforceGateway never uses.

Kept as a measured exception to using the library plainly. Importing simple_salesforce.api (the package runs it
whatever the import) also imports the Metadata API client (SOAP through zeep and lxml) for `Salesforce.mdapi`, and
PyJWT with cryptography for the JWT bearer login. Importing them made salesforce_sync's cold import take 1.16x the
CPU time (about 60 ms; 2026-12-05, this project's 2-core machine, benchmarks/handlers_bench.py's Lambda-like CPython
3.12 venv: medians of 30 fresh interpreters per side, the two sides alternating; docs/performance.md): over the 10%
for which the project keeps such a trick.

So both modules get a stand-in in `sys.modules` that imports the real module on first use: a module attribute read,
or a call of a class other modules import from it at their own import (simple_salesforce.api's `SfdcMetadataApi`).
simple-salesforce is pinned (functions/requirements.txt, uv.lock); tests/unit/test_salesforce_client.py fails when a
new version imports more of either module at import (the stand-in would then no longer save anything) and checks
that both still work when used.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["Salesforce", "SalesforceError", "SalesforceExpiredSession"]


class _ImportedOnFirstUse(ModuleType):
    """Stands in for module `name` in sys.modules until one of its attributes is used, which imports the real module
    in its place. `classes` are the names other modules import from it at their own import (`from m import C`):
    calling one imports the real module and returns an instance of the real class."""

    def __init__(self, name: str, classes: tuple[str, ...] = ()) -> None:
        super().__init__(name)
        for class_name in classes:
            setattr(self, class_name, self._on_first_call(class_name))

    def _on_first_call(self, class_name: str) -> Callable[..., Any]:
        def construct(*args: Any, **kwargs: Any) -> Any:
            return getattr(self._real(), class_name)(*args, **kwargs)

        construct.__name__ = construct.__qualname__ = class_name
        return construct

    def _real(self) -> ModuleType:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return importlib.import_module(self.__name__)

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            # The import system probes __path__ (is it a package?) and the like: not a use of the module.
            raise AttributeError(attribute)
        return getattr(self._real(), attribute)


def _import_on_first_use(name: str, classes: tuple[str, ...] = ()) -> None:
    if name not in sys.modules:
        sys.modules[name] = _ImportedOnFirstUse(name, classes)


_import_on_first_use("simple_salesforce.metadata", classes=("SfdcMetadataApi",))
_import_on_first_use("jwt")

from simple_salesforce.api import Salesforce  # noqa: E402  (after the stand-ins above, on purpose)
from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession  # noqa: E402

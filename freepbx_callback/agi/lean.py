"""Process-wide import choices for the one-call agi-bin scripts (never for ``serve`` or the CLI).

phonenumbers' package ``__init__`` loads its whole API, including the as-you-type formatter and the
number matcher for free text, which the request path never uses: about a tenth of what an agi-bin call
costs. :func:`skip_phonenumbers_init` registers the package as a bare namespace instead, so only the
submodules :mod:`freepbx_callback.numbers` imports by name (``phonenumberutil``, ``shortnumberinfo``,
``phonemetadata``) are loaded. Code that needs the package's top-level names must not run in that process.

Its metadata package (``phonenumbers.data``) also imports, at once, the alternate number formats of 46
countries, one module each. Only the free-text matcher reads them, so in that process they are empty
modules (:class:`_NoAltFormats`): 46 files fewer to find and load on every call.
"""

from __future__ import annotations

import os
import sys

ALT_FORMATS = "phonenumbers.data.alt_format_"


class _NoAltFormats:
    """A meta path finder and loader: ``phonenumbers.data.alt_format_<code>`` becomes a module whose
    ``PHONE_ALT_FORMAT_<code>`` is None (the matcher, never loaded here, is their only reader)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        if name.startswith(ALT_FORMATS) and name[len(ALT_FORMATS) :].isdigit():
            return type(sys.__spec__)(name, self)  # importlib's ModuleSpec, without importing importlib
        return None

    def create_module(self, spec: object) -> None:
        return None  # the default module

    def exec_module(self, module: object) -> None:
        code = module.__name__[len(ALT_FORMATS) :]  # type: ignore[attr-defined]
        setattr(module, f"PHONE_ALT_FORMAT_{code}", None)


def skip_phonenumbers_init() -> bool:
    """Register ``phonenumbers`` without running its ``__init__``, and its alternate formats as empty
    modules (True), unless it is loaded already or cannot be found on sys.path (False: the usual import
    then applies, or fails as usual)."""
    if "phonenumbers" in sys.modules:
        return False
    for entry in sys.path:
        folder = os.path.join(entry or os.curdir, "phonenumbers")
        if os.path.isfile(os.path.join(folder, "phonenumberutil.py")):
            package = type(sys)("phonenumbers")
            package.__path__ = [folder]
            package.__package__ = "phonenumbers"
            package.__file__ = os.path.join(folder, "__init__.py")
            sys.modules["phonenumbers"] = package
            sys.meta_path.insert(0, _NoAltFormats())
            return True
    return False

"""Process-wide import choices for the one-call agi-bin scripts (never for ``serve`` or the CLI).

phonenumbers' package ``__init__`` loads its whole API, including the as-you-type formatter and the
number matcher for free text, which the request path never uses: about a tenth of what an agi-bin call
costs. :func:`skip_phonenumbers_init` registers the package as a bare namespace instead, so only the
submodules :mod:`freepbx_callback.numbers` imports by name (``phonenumberutil``, ``shortnumberinfo``,
``phonemetadata``) are loaded. Code that needs the package's top-level names must not run in that process.
"""

from __future__ import annotations

import os
import sys


def skip_phonenumbers_init() -> bool:
    """Register ``phonenumbers`` without running its ``__init__`` (True), unless it is loaded already or
    cannot be found on sys.path (False: the usual import then applies, or fails as usual)."""
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
            return True
    return False

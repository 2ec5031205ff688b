"""Presidio imported for the spaCy engine Wepos runs, without the Hugging Face engine it never uses.

`presidio_analyzer` imports its transformers NLP engine whenever the package is imported, which pulls in
transformers (and with it half of torch): measured 2.5 s of every process start (`python -X importtime`),
more on a cold disk, for an engine Wepos never builds. Importing Presidio while `transformers` reads as not
installed leaves that engine unavailable in this process only; transformers itself stays importable for
whatever else needs it (the torch embedding backend). `PRESIDIO_DEVICE=cpu` spares Presidio's CUDA probe:
spaCy's small model runs on the CPU.

Imported for that effect, before any other module imports Presidio: `privacy.recognizers` imports it first."""

from __future__ import annotations

import os
import sys


def _load_presidio() -> None:
    if "presidio_analyzer" in sys.modules:
        return
    # tldextract (used by the e-mail recognizer) otherwise fetches the public suffix list from the network.
    os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
    os.environ.setdefault("PRESIDIO_DEVICE", "cpu")
    hide = "transformers" not in sys.modules
    if hide:
        sys.modules["transformers"] = None  # type: ignore[assignment]  # `import transformers` raises ImportError
    try:
        import presidio_analyzer  # noqa: F401
    finally:
        if hide:
            del sys.modules["transformers"]


_load_presidio()

"""Dynamic providers that load whatever directory the Pulumi engine starts them in.

Pulumi pickles a dynamic provider with dill, which writes a class of an importable module *by
reference* (``components.model.upload_provider.ModelUploadProvider``); the provider process
(``python -m pulumi.dynamic``) imports it again, which only works where ``components`` is on
``sys.path`` -- in practice only when the engine's working directory is the project root.

A :class:`PortableProvider` pickles instead as ``eval`` of one expression that appends the
project root recorded at pickling time to ``sys.path`` (if it is missing) and then imports the
class.  It still names a module and a class, not their code, so editing a provider changes no
resource's inputs; the recorded root only changes when the project moves, which the providers'
diffs ignore (they never look at ``__provider``).  The class names are part of the state of every
stack: keep them importable under these names (or leave a re-export) when moving code.
"""
from __future__ import annotations

import os

from pulumi.dynamic import ResourceProvider

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class PortableProvider(ResourceProvider):
    # Nothing secret is captured in a provider, so its serialized form need not be a secret.
    serialize_as_secret_always = False

    def __reduce__(self):
        cls = type(self)
        source = (f"[__import__('sys').path.append(r) for r in [{PROJECT_ROOT!r}] if r not in __import__('sys').path]"
                  f" and None or getattr(__import__('importlib').import_module({cls.__module__!r}), "
                  f"{cls.__qualname__!r})()")
        return (eval, (source,))

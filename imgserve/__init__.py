"""imgserve: originals in a folder, served as thumbnails and web formats, decoded and encoded in memory."""

__version__ = "0.1.0"

from .web.app import create_app  # noqa: E402

__all__ = ["create_app", "__version__"]

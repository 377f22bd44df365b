"""imgserve: originals in a folder, served as thumbnails and web formats, decoded and encoded in memory."""

import os

os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")  # before cv2 is imported: OpenCV must not print; we log

__version__ = "0.1.0"
# The name on PyPI (`imgserve` there is an unrelated project); the import package and the command stay `imgserve`.
DISTRIBUTION = "imgserve-server"
__all__ = ["create_app", "__version__", "DISTRIBUTION"]


def __getattr__(name: str):
    """`imgserve.create_app` without importing Flask for those who only use the client or the batch code."""
    if name == "create_app":
        from .web.app import create_app

        return create_app
    raise AttributeError(name)

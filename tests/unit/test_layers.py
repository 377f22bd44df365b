"""The packages depend one way: server -> web -> sources -> imaging -> options -> formats/errors/settings.

A module may import its own package and anything below its layer, never above: the imaging core
stays usable without Flask (batch, the client), and the folder tree tells where a request goes.
"""

import ast
from pathlib import Path

from tests.support import REPO

LAYERS = ["errors", "settings", "formats", "options", "signing", "imaging", "sources", "web", "batch", "server",
          "client", "cli", "__main__", "__init__"]
# What each layer may not import (besides what is above it in LAYERS): third-party web code stays in web/server.
FORBIDDEN_LIBRARIES = {"imaging": {"flask", "werkzeug", "waitress"}, "formats": {"flask"}, "options": {"flask"},
                       "settings": {"flask", "cv2"}, "errors": {"flask", "cv2"}}


def layer_of(path: Path) -> str:
    parts = path.relative_to(REPO / "imgserve").with_suffix("").parts
    return parts[0]


def imported(path: Path) -> set[str]:
    """Top-level imgserve layers and third-party top-level modules a file imports."""
    tree = ast.parse(path.read_text())
    package = path.relative_to(REPO).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
                names |= {f"{module}.{alias.name}" if not node.module else module for alias in node.names}
            else:
                names.add(node.module or "")
    return names


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for path in sorted((REPO / "imgserve").rglob("*.py")):
        layer = layer_of(path)
        rank = LAYERS.index(layer)
        for name in imported(path):
            parts = name.split(".")
            if parts[0] == "imgserve" and len(parts) > 1:
                target = parts[1]
                if target in LAYERS and LAYERS.index(target) > rank and target != layer:
                    wrong.append(f"{path.relative_to(REPO)} imports {name}")
            elif parts[0] in FORBIDDEN_LIBRARIES.get(layer, ()):
                wrong.append(f"{path.relative_to(REPO)} imports {name}")
    assert not wrong, "\n".join(wrong)

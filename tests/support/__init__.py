"""What several test modules share: generated images, hostile files, a test origin, HTTP helpers."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # the checkout: README, docs/, images/

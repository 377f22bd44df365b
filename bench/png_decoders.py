"""Whole-image PNG decoders on W2's PNGs, CPU ms on one thread: is there one faster than imgserve's?

    .venv/bin/python bench/png_decoders.py [--rounds 3]

imgserve decodes 8-bit PNGs with libspng (imagecodecs' build, which inflates with the system's zlib).
sharp's libvips uses libspng too, built with zlib-ng; Pillow's wheels also inflate with zlib-ng. This
times each on the same files, alternating, and checks they give the same pixels. libvips is timed
when pyvips can be imported; it is not an imgserve dependency, so run this with a Python that has it:

    python3.11 -m venv /tmp/vips && /tmp/vips/bin/pip install pyvips-binary pyvips imagecodecs pillow \\
        opencv-python-headless numpy && VIPS_CONCURRENCY=1 /tmp/vips/bin/python bench/png_decoders.py

Each decoder's time includes handing over a NumPy array (libvips: write_to_memory, a copy). Pillow
reads 16-bit colour PNGs as 8 bits, so their rows say the pixels differ; the sum counts only the PNGs
every decoder takes.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.photos import w2_set  # noqa: E402


def decoders() -> dict:
    import imagecodecs
    from PIL import Image

    found = {"libspng (imagecodecs)": imagecodecs.spng_decode,
             "Pillow": lambda data: np.asarray(Image.open(io.BytesIO(data)))}
    try:
        import pyvips
    except ImportError:
        print("(pyvips not importable here: libvips not timed; see the docstring)")
        return found
    pyvips.cache_set_max(0)

    def vips(data: bytes) -> np.ndarray:
        image = pyvips.Image.pngload_buffer(data, access="sequential")
        dtype = np.uint8 if image.format == "uchar" else np.uint16
        return np.ndarray((image.height, image.width, image.bands), dtype, image.write_to_memory())

    found[f"libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"] = vips
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = decoders()
    totals = dict.fromkeys(names, 0.0)
    print("| PNG | " + " | ".join(f"{name} ms" for name in names) + " | same pixels |")
    print("|---|" + "---:|" * len(names) + "---|")
    for path in (p for p in w2_set() if p.suffix == ".png"):
        data = path.read_bytes()
        times, pixels = {name: [] for name in names}, {}
        for _ in range(args.rounds):
            for name, decode in names.items():
                started = time.process_time()
                try:
                    pixels[name] = decode(data)
                except Exception:  # noqa: BLE001 - a layout a decoder does not take (libspng: gray+alpha)
                    pixels[name] = None
                times[name].append((time.process_time() - started) * 1000)
        taken = [image for image in pixels.values() if image is not None]
        same = all(image.shape == taken[0].shape and np.array_equal(image, taken[0]) for image in taken)
        if len(taken) == len(names):
            for name in names:
                totals[name] += statistics.median(times[name])
        cells = [f"{statistics.median(times[name]):.0f}" if pixels[name] is not None else "-" for name in names]
        label = path.parents[2].name if path.parent.name == "images" else path.name
        print(f"| {label} ({data[24]}-bit, type {data[25]}) | " + " | ".join(cells) + f" | {same} |", flush=True)
    print("| **sum, PNGs every decoder takes** | " + " | ".join(f"{total:.0f}" for total in totals.values()) + " | |")


if __name__ == "__main__":
    main()

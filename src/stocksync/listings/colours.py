"""What a product photo says without a model (Pillow only): its dominant colours, named,
with their shares, and the checks marketplaces make of a main image."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

# Image rules, as marketplaces publish them:
# - Amazon: 500 to 10,000 px on the longest side, zoom from 1,000 px; the main image on
#   pure white (RGB 255, 255, 255) (summarised in https://dev.to/herofab/check-product-
#   photos-against-amazon-etsy-and-96-other-marketplace-image-rules-with-a-free-api-no-5982
#   and https://glama.ai/mcp/connectors/co.productaura/productaura/tools/
#   check_marketplace_spec).
# - eBay recommends at least 1,000 px on the longest side
#   (https://developer.ebay.com/support/kb-article?KBid=1489).
MIN_LONGEST_SIDE = 500
ZOOM_LONGEST_SIDE = 1000
# "White" allows JPEG noise around 255; the frame is the outer 5 % on each side, where a
# product photo shows its background.
WHITE_FLOOR = 245
FRAME = 0.05
WHITE_BACKGROUND_SHARE = 0.9
SAMPLE = 96  # colours are read on a thumbnail: shares do not need every pixel
PALETTE = 6

# Named colours buyers search for, as sRGB points (nearest in CIELAB wins).
NAMED: dict[str, tuple[int, int, int]] = {
    "Black": (20, 20, 20), "White": (250, 250, 250), "Gray": (128, 128, 128),
    "Charcoal": (60, 64, 68), "Silver": (192, 192, 192), "Red": (200, 30, 35),
    "Burgundy": (120, 20, 40), "Pink": (245, 165, 190), "Orange": (240, 130, 20),
    "Yellow": (245, 215, 40), "Beige": (225, 205, 170), "Cream": (250, 245, 215),
    "Brown": (110, 70, 40), "Tan": (205, 170, 125), "Khaki": (190, 175, 130),
    "Olive": (110, 115, 45), "Green": (40, 145, 60), "Teal": (0, 125, 125),
    "Navy": (25, 35, 85), "Blue": (40, 90, 200), "Light Blue": (150, 195, 235),
    "Purple": (110, 50, 150), "Lilac": (195, 160, 210),
}


class ImageUnreadable(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ColourShare:
    name: str
    share: float  # of the image's pixels, 0..1
    rgb: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class ImageReport:
    width: int
    height: int
    colours: tuple[ColourShare, ...]  # largest share first, all pixels counted
    product_colours: tuple[ColourShare, ...]  # without a white background
    white_background_share: float  # of the frame's pixels
    problems: tuple[str, ...]  # what a marketplace would refuse or warn about

    @property
    def white_background(self) -> bool:
        return self.white_background_share >= WHITE_BACKGROUND_SHARE


def _lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    def linear(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(c) for c in rgb)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116
    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


_NAMED_LAB = {name: _lab(rgb) for name, rgb in NAMED.items()}


def colour_name(rgb: tuple[int, int, int]) -> str:
    lab = _lab(rgb)
    return min(_NAMED_LAB, key=lambda n: sum((a - b) ** 2 for a, b in zip(
        lab, _NAMED_LAB[n], strict=True)))


def _shares(image: Image.Image) -> list[ColourShare]:
    quantised = image.quantize(colors=PALETTE, method=Image.Quantize.MEDIANCUT)
    palette = quantised.getpalette() or []
    total = image.width * image.height
    named: dict[str, tuple[int, tuple[int, int, int]]] = {}
    for count, index in quantised.getcolors(PALETTE) or []:
        rgb = (palette[3 * index], palette[3 * index + 1], palette[3 * index + 2])
        name = colour_name(rgb)
        before = named.get(name, (0, rgb))
        # the name keeps the RGB of its largest cluster
        named[name] = (before[0] + count, before[1] if before[0] >= count else rgb)
    found = [ColourShare(n, round(c / total, 4), rgb) for n, (c, rgb) in named.items()]
    return sorted(found, key=lambda s: (-s.share, s.name))


def _frame_white_share(image: Image.Image) -> float:
    width, height = image.size
    edge_x, edge_y = max(1, int(width * FRAME)), max(1, int(height * FRAME))
    pixels = image.load()
    assert pixels is not None
    white = total = 0
    for y in range(height):
        for x in range(width):
            if edge_x <= x < width - edge_x and edge_y <= y < height - edge_y:
                continue
            total += 1
            if min(pixels[x, y][:3]) >= WHITE_FLOOR:  # type: ignore[index]
                white += 1
    return round(white / total, 4) if total else 0.0


def analyse(data: bytes, *, main_image: bool = True) -> ImageReport:
    """Dominant colours (quantised, named, with shares) and the image checks."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            opened.draft("RGB", (SAMPLE * 2, SAMPLE * 2))  # JPEG: decode small, fast
            small = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ImageUnreadable(f"not an image Pillow can read: {exc}") from exc
    small.thumbnail((SAMPLE, SAMPLE))
    colours = _shares(small)
    white_share = _frame_white_share(small)
    background = white_share >= WHITE_BACKGROUND_SHARE
    product = [c for c in colours if not (background and c.name == "White")]
    rest = sum(c.share for c in product) or 1.0
    product_colours = tuple(ColourShare(c.name, round(c.share / rest, 4), c.rgb)
                            for c in product)
    problems = []
    if max(width, height) < MIN_LONGEST_SIDE:
        problems.append(f"{max(width, height)} px on the longest side, under "
                        f"{MIN_LONGEST_SIDE} (marketplaces refuse it)")
    elif max(width, height) < ZOOM_LONGEST_SIDE:
        problems.append(f"{max(width, height)} px on the longest side: no zoom under "
                        f"{ZOOM_LONGEST_SIDE}")
    if main_image and not background:
        problems.append(f"main image background is {white_share:.0%} white, not white "
                        f"(at least {WHITE_BACKGROUND_SHARE:.0%} of the frame)")
    return ImageReport(width, height, tuple(colours), product_colours, white_share,
                       tuple(problems))

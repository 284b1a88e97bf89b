"""Colours and image checks on generated images of known colours (Pillow only)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from stocksync.listings.colours import ImageUnreadable, analyse, colour_name


def png(size: tuple[int, int], background: tuple[int, int, int],
        shapes: list[tuple[tuple[int, int, int, int], tuple[int, int, int]]] = (),  # type: ignore[assignment]
        fmt: str = "PNG") -> bytes:
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for box, fill in shapes:
        draw.rectangle(box, fill=fill)
    out = io.BytesIO()
    image.save(out, fmt, quality=92)
    return out.getvalue()


@pytest.mark.parametrize(("rgb", "name"), [
    ((0, 0, 0), "Black"), ((255, 255, 255), "White"), ((200, 20, 30), "Red"),
    ((20, 30, 90), "Navy"), ((30, 150, 60), "Green"), ((245, 210, 30), "Yellow"),
    ((130, 130, 130), "Gray"), ((115, 70, 35), "Brown"), ((40, 90, 210), "Blue")])
def test_a_plain_colour_is_named(rgb: tuple[int, int, int], name: str) -> None:
    assert colour_name(rgb) == name
    report = analyse(png((600, 600), rgb), main_image=False)
    assert report.colours[0].name == name and report.colours[0].share == 1.0


def test_a_product_on_white_gives_its_colour_and_a_white_background() -> None:
    # a navy garment covering the middle 60 % x 60 % (36 % of the pixels), red trim
    data = png((1200, 1200), (255, 255, 255), [((240, 240, 959, 959), (20, 30, 90)),
                                               ((240, 900, 959, 959), (200, 20, 30))])
    report = analyse(data)
    shares = {c.name: c.share for c in report.colours}
    assert shares["White"] == pytest.approx(0.64, abs=0.03)
    assert shares["Navy"] == pytest.approx(0.33, abs=0.03)
    assert shares["Red"] == pytest.approx(0.03, abs=0.02)
    assert report.white_background and report.white_background_share == 1.0
    assert report.product_colours[0].name == "Navy"
    # edges blended by the thumbnail count as other colours: a few points off
    assert report.product_colours[0].share == pytest.approx(0.92, abs=0.07)
    assert "White" not in {c.name for c in report.product_colours}
    assert report.problems == ()


def test_a_jpeg_is_read_too() -> None:
    report = analyse(png((1000, 800), (250, 250, 250), [((300, 200, 700, 600), (30, 150, 60))],
                         fmt="JPEG"))
    assert report.product_colours[0].name == "Green" and report.white_background


def test_a_small_image_on_a_coloured_background_breaks_the_main_image_rules() -> None:
    report = analyse(png((400, 300), (200, 20, 30), [((100, 100, 300, 200), (0, 0, 0))]))
    assert not report.white_background and report.white_background_share == 0.0
    assert any("under 500" in p for p in report.problems)
    assert any("not white" in p for p in report.problems)
    assert report.product_colours[0].name == "Red"  # no white background to leave out
    zoomless = analyse(png((800, 800), (255, 255, 255)))
    assert zoomless.problems == ("800 px on the longest side: no zoom under 1000",)


def test_bytes_that_are_no_image_are_refused() -> None:
    with pytest.raises(ImageUnreadable):
        analyse(b"<html>not an image</html>")

"""report.html in a real browser: headless Chromium (Debian's `chromium`, driven by
Playwright) opens the page from disk, logs no console error, requests nothing but the page,
shows every section and every picture, and paints a screenshot that is not blank."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from synthos.report.documents import SECTIONS, write_documents

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("no Chromium: install Debian's package (apt-get install -y chromium)")
    return path


def open_in_chromium(html: Path, screenshot: Path) -> dict:
    """Load the page, wait until it is painted, and report what a person would see."""
    from playwright.sync_api import sync_playwright

    seen: dict = {"console": [], "errors": [], "requests": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: seen["console"].append((m.type, m.text)))
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.goto(html.as_uri(), wait_until="load")
            seen["sections"] = page.evaluate(
                """ids => ids.map(id => {
                    const el = document.getElementById(id);
                    return el ? [id, el.getBoundingClientRect().height, el.innerText] : [id, 0, ""];
                })""",
                list(SECTIONS),
            )
            seen["images"] = page.evaluate(
                "Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
            )
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return seen


def _painted_share(png: Path) -> tuple[float, int]:
    """Share of pixels that differ from the commonest colour, and the number of colours."""
    from PIL import Image

    image = Image.open(png).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 24)
    commonest = max(count for count, _ in colours)
    return 1 - commonest / (image.width * image.height), len(colours)


@pytest.mark.slow
@pytest.mark.parametrize("run", ["full_run_dir", "bare_run_dir"])
def test_report_opens_cleanly_in_headless_chromium(run, request, tmp_path):
    run_dir = request.getfixturevalue(run)
    html = write_documents(run_dir).html
    shot = tmp_path / "report.png"
    seen = open_in_chromium(html, shot)

    assert seen["errors"] == [], seen["errors"]
    assert [m for m in seen["console"] if m[0] in ("error", "warning")] == []
    assert seen["requests"] == [html.as_uri()]  # nothing else is fetched
    for section_id, height, text in seen["sections"]:
        assert height > 40 and text.strip(), f"section {section_id} is missing or empty"
    if run == "full_run_dir":
        assert len(seen["images"]) == 4
        assert all(complete and width > 100 for _, complete, width in seen["images"]), seen[
            "images"
        ]
        texts = dict((i, t) for i, _, t in seen["sections"])
        assert "Collapse detected" in texts["verdict"]
        assert "Not run" not in "".join(texts.values())
    else:
        assert seen["images"] == []
        assert all(
            "Not run" in text
            for section_id, _, text in seen["sections"]
            if section_id in ("dimensions", "loss-curves", "regions", "recommendations")
        )
    painted, colours = _painted_share(shot)
    assert painted > 0.2 and colours > 50, (painted, colours)

"""The chat page end to end in a real headless browser (Playwright driving Debian's
chromium): upload an image, ask, watch the answer stream in, see the image; the final
screenshot is checked structurally (where the elements are, that they hold pixels)."""

from __future__ import annotations

import base64
import io
import os

import numpy as np
import pytest
from PIL import Image
from serve_helpers import chat_body, random_image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason=f"{CHROMIUM} is absent; install it with `apt-get install -y chromium`",
    ),
]

# Records every text the answer bubble shows, so the test can tell streaming (many growing
# texts) from an answer that appears at once.
WATCH_ANSWER = """
() => {
  window.__answerTexts = [];
  const target = document.getElementById('messages');
  new MutationObserver(() => {
    const spans = target.querySelectorAll('.msg.assistant .text');
    if (spans.length) window.__answerTexts.push(spans[spans.length - 1].textContent);
  }).observe(target, {subtree: true, childList: true, characterData: true});
}
"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def ui_server(make_server):
    return make_server(ui=True)


def region(shot: np.ndarray, box: dict) -> np.ndarray:
    x0, y0 = int(box["x"]), int(box["y"])
    return shot[y0 : y0 + int(box["height"]), x0 : x0 + int(box["width"])]


def set_max_tokens(page, n: int) -> None:
    if not page.evaluate("document.getElementById('settings').open"):
        page.click("#settings summary")
    page.fill("#max-tokens", str(n))


def ask_and_wait(page, question: str) -> str:
    page.evaluate(WATCH_ANSWER)
    page.fill("#question", question)
    page.click("#send")
    page.wait_for_function(
        "() => document.getElementById('status').dataset.state === 'done'", timeout=90_000
    )
    return page.inner_text(".msg.assistant:last-child .text")


def test_upload_ask_stream_and_see(browser, ui_server, tmp_path):
    image = random_image(21, 90, 70)
    png_path = tmp_path / "chest.png"
    image.save(png_path)
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(ui_server.url + "/")
        page.wait_for_function("() => document.getElementById('model-name').textContent === 'tiny'")
        page.set_input_files("#image-input", str(png_path))
        page.wait_for_function("() => document.getElementById('preview').naturalWidth > 0")
        assert page.is_visible("#preview")
        assert "90 × 70" in page.inner_text("#preview-caption")
        set_max_tokens(page, 24)
        answer = ask_and_wait(page, "What does the image show?")

        # The answer is the model's greedy answer to the same request sent through the API.
        uri = "data:image/png;base64," + base64.b64encode(png_path.read_bytes()).decode()
        import httpx

        api = httpx.post(
            f"{ui_server.url}/v1/chat/completions",
            timeout=60,
            json=chat_body("What does the image show?", [uri], max_tokens=24),
        ).json()
        expected = api["choices"][0]["message"]["content"]
        assert answer.strip() and answer == expected
        texts = page.evaluate("window.__answerTexts")
        growing = [t for t in dict.fromkeys(texts) if t]
        assert len(growing) >= 3, growing  # it arrived in pieces
        assert all(expected.startswith(t) for t in growing)
        assert page.locator(".msg.user img").count() == 1  # the question shows its image

        shot_path = tmp_path / "page.png"
        page.screenshot(path=str(shot_path))
        shot = np.asarray(Image.open(shot_path).convert("RGB")).astype(float)
        assert shot.shape == (VIEWPORT["height"], VIEWPORT["width"], 3)
        preview_box = page.locator("#preview").bounding_box()
        answer_box = page.locator(".msg.assistant:last-child").bounding_box()
        question_box = page.locator(".msg.user").bounding_box()
        for box in (preview_box, answer_box, question_box):
            assert box and box["width"] > 20 and box["height"] > 10
        # The preview shows the random image (high pixel variance); the bubbles hold text
        # (dark glyphs on a light background), and the page background is flat.
        assert region(shot, preview_box).std() > 40
        answer_pixels = region(shot, answer_box)
        assert answer_pixels.min() < 120 and answer_pixels.max() > 200
        assert preview_box["x"] + preview_box["width"] <= answer_box["x"]  # image left, chat right
    finally:
        page.close()


def test_dicom_is_rendered_by_the_server(browser, ui_server):
    from pydicom.data import get_testdata_file

    from lingshu.models.images import load_image

    path = get_testdata_file("CT_small.dcm", download=False)
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(ui_server.url + "/")
        page.set_input_files("#image-input", path)
        page.wait_for_function(
            "() => document.getElementById('preview').naturalWidth > 0", timeout=30_000
        )
        assert page.evaluate("document.getElementById('preview').src").startswith(
            "data:image/png;base64,"
        )
        assert "128 × 128" in page.inner_text("#preview-caption")
        # What the browser shows is exactly what the model layer decodes from the file.
        shown = page.evaluate("document.getElementById('preview').src").split(",", 1)[1]
        shown_pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(shown))).convert("RGB"))
        assert np.array_equal(shown_pixels, np.asarray(load_image(path)))
        set_max_tokens(page, 8)
        answer = ask_and_wait(page, "Which organ is shown?")
        from lingshu.inference import GenerationParams

        expected = ui_server.engine.generate(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "image": load_image(path)},
                        {"type": "text", "text": "Which organ is shown?"},
                    ],
                }
            ],
            GenerationParams.from_client(max_new_tokens=8),
        )
        assert answer == expected.text
    finally:
        page.close()


def test_page_asks_for_the_api_key(browser, make_server):
    locked = make_server(ui=True, api_key="page-key")
    page = browser.new_page(viewport=VIEWPORT)
    try:
        page.goto(locked.url + "/")
        page.wait_for_function("() => document.getElementById('settings').open === true")
        assert "API key" in page.inner_text("#status")
        set_max_tokens(page, 4)
        page.fill("#question", "hello")
        page.click("#send")
        page.wait_for_function("() => document.getElementById('status').dataset.state === 'error'")
        assert "API key" in page.inner_text("#status")
        page.fill("#api-key", "page-key")
        page.dispatch_event("#api-key", "change")
        page.wait_for_function("() => document.getElementById('model-name').textContent === 'tiny'")
        assert ask_and_wait(page, "hello again").strip()
    finally:
        page.close()


def test_page_is_off_without_ui(server):
    import httpx

    assert "text/html" not in httpx.get(server.url + "/").headers["content-type"]
    assert httpx.get(server.url + "/ui/static/app.js").status_code == 404

"""The report in a real browser: headless Chromium draws it without errors or requests.

Needs a Chromium binary (Debian/Ubuntu: ``apt-get install -y chromium``); skipped otherwise.
Console messages are read from Chromium's log (``--enable-logging=stderr``): the report has
no JavaScript, so any console message means a script ran or the Content-Security-Policy
blocked a request, both of which are defects.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sample_result import sample_result

from synth.reports import write_report

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
if CHROMIUM is None:
    pytest.skip("headless Chromium is not installed (chromium, chromium-browser or google-chrome on PATH; "
                "Debian/Ubuntu: apt-get install -y chromium)", allow_module_level=True)

Image = pytest.importorskip("PIL.Image", reason="Pillow (installed with matplotlib) is needed to read screenshots")

WIDTH, HEIGHT = 1280, 4000
FAIL_RED = (0xB4, 0x23, 0x18)  # --fail in report.css: the FAIL verdict's colour


def chromium(tmp_path: Path, page: Path, *action: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on ``page`` with no network, sync or profile of its own."""
    profile = tmp_path / "chromium-profile"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        *action, page.resolve().as_uri(),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done


def console_messages(stderr: str) -> list[str]:
    """Console output of the page (errors, CSP violations, logs) from Chromium's log lines."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(sample_result(), path)
    return path


def test_screenshot_shows_a_drawn_page_without_console_errors(tmp_path, report):
    png = tmp_path / "report.png"
    done = chromium(tmp_path, report, f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}")
    assert console_messages(done.stderr) == []
    assert png.is_file() and png.stat().st_size > 100_000  # a blank page compresses to a few KB
    with Image.open(png) as im:
        rgb = im.convert("RGB")
        assert rgb.size == (WIDTH, HEIGHT)
        colours = rgb.getcolors(maxcolors=1_000_000)
        assert colours is not None and len(colours) > 200  # text, charts and cards, not one colour
        top = rgb.crop((0, 0, WIDTH, 900)).getdata()  # the summary card: the red FAIL verdict
        red = sum(1 for p in top if all(abs(a - b) <= 12 for a, b in zip(p, FAIL_RED, strict=True)))
        assert red > 1000


def test_dom_has_the_verdict_and_every_figure(tmp_path, report):
    dom = chromium(tmp_path, report, "--dump-dom").stdout
    assert 'data-verdict="FAIL"' in dom
    assert dom.count("<svg") == 9
    assert 'id="family-membership"' in dom and 'id="manifest"' in dom


def test_console_check_catches_a_script_and_an_outside_request(tmp_path, report):
    """The check above can fail: a page that runs a script and loads a remote image is caught."""
    html = report.read_text(encoding="utf-8").replace(
        "<body>", '<body><img src="https://example.invalid/x.png"><script>throw new Error("boom")</script>', 1
    )
    page = tmp_path / "tampered.html"
    page.write_text(html, encoding="utf-8")
    messages = console_messages(chromium(tmp_path, page, "--dump-dom").stderr)
    assert any("Content Security Policy" in m and "example.invalid" in m for m in messages)
    assert any("inline script" in m for m in messages)  # blocked by the policy, so it never ran

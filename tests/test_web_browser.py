"""The web page in a real headless Chromium (Debian's chromium and chromium-driver, driven by Selenium): a person
with only a browser records a voice with the microphone (Chromium's fake one, fed from a WAV), uploads another,
plays voices, deletes one; a separate Wyoming client then speaks the new voice with no restart. Also under Home
Assistant's ingress prefix, and with a recording of silence."""

import asyncio
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import describe, one_shot
from tests.ingress_proxy import IngressProxy
from tests.test_web import _pcm_wav
from tests.web_client import spoken_recording, start_web

pytestmark = pytest.mark.timeout(300)

CHROMIUM, DRIVER = (
    shutil.which("chromium") or "/usr/bin/chromium",
    shutil.which("chromedriver") or "/usr/bin/chromedriver",
)


@pytest.fixture
def open_browser(tmp_path) -> Iterator[Callable[[Path], WebDriver]]:
    """A headless Chromium whose microphone plays `capture` (a WAV, looped)."""
    browsers: list[WebDriver] = []

    def start(capture: Path) -> WebDriver:
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=1100,1600", "--autoplay-policy=no-user-gesture-required",
                     "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-audio-capture={capture}",
                     f"--user-data-dir={tmp_path / f'chromium{len(browsers)}'}"):  # fmt: skip
            options.add_argument(flag)
        browser = webdriver.Chrome(service=DriverService(DRIVER), options=options)
        browsers.append(browser)
        return browser

    yield start
    for browser in browsers:
        browser.quit()


def until(browser: WebDriver, check: Callable[[WebDriver], object], timeout: float = 60) -> object:
    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(check)


def text_of(browser: WebDriver, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def record(browser: WebDriver, seconds: float) -> None:
    browser.find_element(By.ID, "record").click()
    until(browser, lambda b: "Recording" in text_of(b, "record-state"))
    time.sleep(seconds)  # the fake microphone plays its file in real time
    browser.find_element(By.ID, "record").click()
    until(browser, lambda b: "Recorded" in text_of(b, "record-state"))


def add_voice(browser: WebDriver, name: str, languages: str = "") -> str:
    browser.find_element(By.ID, "add-name").send_keys(name)
    if languages:
        browser.find_element(By.ID, "add-languages").send_keys(languages)
    browser.find_element(By.ID, "add-submit").click()
    busy = ("Checking", "Preparing")
    return str(until(browser, lambda b: (text := text_of(b, "add-progress")) and not text.startswith(busy) and text))


def play(browser: WebDriver, voice: str) -> dict:
    """Click the voice's play button; the figures shown, and the length of what the audio element holds."""
    button = browser.find_element(By.CSS_SELECTOR, f'button.play[data-voice="{voice}"]')
    browser.execute_script("arguments[0].closest('details').open = true; arguments[0].scrollIntoView()", button)
    before = browser.execute_script("return document.getElementById('player').src")
    button.click()
    until(browser, lambda b: b.execute_script("return document.getElementById('player').src") != before)
    loaded = (
        "const p = document.getElementById('player'); return p.readyState > 0 && isFinite(p.duration) && p.duration"
    )
    duration = until(browser, lambda b: b.execute_script(loaded))
    until(browser, lambda b: "Real-time factor" in text_of(b, "try-figures"))
    figures = dict(zip(*[iter(text_of(browser, "try-figures").split("\n"))] * 2, strict=False))
    return {"duration": duration, **figures}


def test_a_person_with_only_a_browser_adds_a_voice_and_hears_it(start_server, open_browser, tmp_path):
    server, port = start_web(start_server, tmp_path)
    reading = spoken_recording(tmp_path / "reading.wav")
    browser = open_browser(reading)
    browser.get(f"http://127.0.0.1:{port}/")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, 'button.play[data-voice="en/joe"]'))

    record(browser, 9)
    # The recording can be heard before it is added: about the 9 s recorded.
    recorded = "const p = document.getElementById('preview'); return !p.hidden && p.readyState > 0 && p.duration"
    assert 7 < until(browser, lambda b: b.execute_script(recorded)) < 12
    outcome = add_voice(browser, "mic", "en")
    assert "mic is ready" in outcome and "reload the Wyoming integration" in outcome, outcome
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, '[data-cloned="mic"]'))
    assert (tmp_path / "voices" / "mic.wav").exists()

    # A file uploaded through the file chooser.
    upload = spoken_recording(tmp_path / "upload.ogg")
    browser.find_element(By.ID, "add-name").clear()
    browser.find_element(By.ID, "add-file").send_keys(str(upload))
    assert "up is ready" in add_voice(browser, "up")

    # A separate Wyoming client speaks the new voices: no restart, no SIGHUP.
    names = {voice.name for voice in asyncio.run(describe(server.port)).tts[0].voices}
    assert {"en/mic", "en/up"} <= names
    answer = asyncio.run(one_shot(server.port, "Recorded in a browser.", voice="en/mic"))
    assert not answer.errors and answer.seconds > 0.5

    # Playing a voice: the audio element receives the whole answer, as long as the server says it is.
    heard = play(browser, "en/joe")
    audio_s = float(heard["Audio"].split()[0])
    assert abs(heard["duration"] - audio_s) < 0.11, heard
    assert heard["Engine"] == "piper" and "ms here" in heard["First audio"]

    # Try it: the markdown example, streamed, with the request's figures.
    browser.find_element(By.ID, "try-speak").click()
    until(browser, lambda b: "living room" in text_of(b, "try-figures"))
    assert "**" not in text_of(browser, "try-figures")

    # Delete, confirmed in the dialog.
    browser.find_element(By.CSS_SELECTOR, '[data-cloned="up"] button.delete').click()
    browser.switch_to.alert.accept()
    until(browser, lambda b: not b.find_elements(By.CSS_SELECTOR, '[data-cloned="up"]'))
    assert not (tmp_path / "voices" / "up.wav").exists()
    assert "en/up" not in {voice.name for voice in asyncio.run(describe(server.port)).tts[0].voices}
    until(browser, lambda b: "Connections" in text_of(b, "status-list"))
    assert browser.find_elements(By.CSS_SELECTOR, "#chart rect")
    logs = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not logs, logs


def test_under_the_ingress_prefix_every_request_stays_inside_it(start_server, open_browser, tmp_path):
    server, port = start_web(start_server, tmp_path)
    browser = open_browser(spoken_recording(tmp_path / "reading.wav"))
    with IngressProxy(port) as ingress:
        browser.get(ingress.url)
        until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, 'button.play[data-voice="en/joe"]'))
        heard = play(browser, "en/joe")
        assert heard["duration"] > 0.5
        browser.find_element(By.ID, "add-file").send_keys(str(spoken_recording(tmp_path / "upload.mp3")))
        assert "ingress is ready" in add_voice(browser, "ingress")
        assert not ingress.outside, ingress.outside
        assert {"/", "/static/app.js", "/api/voices"} <= {path.split("?")[0] for path in ingress.forwarded}
    assert (tmp_path / "voices" / "ingress.wav").exists()


def test_a_recording_of_silence_is_refused_on_the_page(start_server, open_browser, tmp_path):
    server, port = start_web(start_server, tmp_path)
    quiet_room = _pcm_wav(tmp_path / "room.wav", np.zeros(22050 * 8), 22050)
    browser = open_browser(quiet_room)
    browser.get(f"http://127.0.0.1:{port}/")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "button.play"))
    record(browser, 7)
    outcome = add_voice(browser, "nobody")
    assert "Not added" in outcome and "silent" in outcome, outcome
    assert not [path for path in (tmp_path / "voices").rglob("*") if path.is_file()]


def test_pronunciations_are_edited_on_the_page_and_spoken(start_server, open_browser, tmp_path):
    server, port = start_web(start_server, tmp_path, "--data-dir", str(tmp_path / "data"))
    browser = open_browser(spoken_recording(tmp_path / "reading.wav"))
    browser.get(f"http://127.0.0.1:{port}/")
    until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, '#lexicon-language option[value="en"]'))
    browser.execute_script("const s = document.getElementById('lexicon-language'); s.value = 'en';"
                           "s.dispatchEvent(new Event('change'));")  # fmt: skip
    box = browser.find_element(By.ID, "lexicon-text")
    state = browser.find_element(By.ID, "lexicon-state")
    box.send_keys("blorft kitchen")
    browser.find_element(By.ID, "lexicon-save").click()
    until(browser, lambda _: "Line 1" in state.text)
    assert box.get_attribute("value") == "blorft kitchen"  # kept on the page for fixing
    assert not (tmp_path / "data" / "lexicon" / "en.txt").exists()
    box.clear()
    box.send_keys("blorft = kitchen\n")
    browser.find_element(By.ID, "lexicon-save").click()
    until(browser, lambda _: state.text == "Saved: 1 entry")
    assert (tmp_path / "data" / "lexicon" / "en.txt").read_text(encoding="utf-8") == "blorft = kitchen\n"
    browser.refresh()
    until(browser, lambda b: "✓" in b.find_element(By.CSS_SELECTOR, '#lexicon-language option[value="en"]').text)
    answer = asyncio.run(one_shot(server.port, "Turn on the blorft lights.", "en/joe"))
    assert not answer.errors and answer.seconds > 1

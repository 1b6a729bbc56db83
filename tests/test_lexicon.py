"""Pronunciation lexicons: entries matched as whole words (case as asked), IPA for the engines that speak it, a file
read again when it changes, a broken one reported once and not used, and editing on the web page: what the
engine is then given, and what a listener hears."""

import asyncio
import logging
import os
import time

import pytest

from tests.conftest import one_shot
from tests.web_client import WebPage, start_web
from wyoming_streamtts.lexicon import Lexicon, LexiconError, parse
from wyoming_streamtts.phonemes import as_ipa, as_words, mark


def test_entries_and_what_is_wrong_with_a_line():
    entries = parse("# names\nNguyen = win\nSiobhan = /ʃɪˈvɔːn/  # Irish\n\nUS == you ess\n")
    assert [(e.phrase, e.say, e.ipa, e.match_case) for e in entries] == [
        ("Nguyen", "win", False, False),
        ("Siobhan", "ʃɪˈvɔːn", True, False),
        ("US", "you ess", False, True),
    ]
    for text, line in [("ok = fine\nno equals sign", 2), ("= nothing before", 1), ("a = b = c", 1), ("x =", 1)]:
        with pytest.raises(LexiconError, match=f"Line {line}:"):
            parse(text)


def test_whole_words_any_case_unless_asked(tmp_path):
    lexicon = Lexicon(tmp_path)
    lexicon.write("en", "Nguyen = win\nliving room = lounge\nUS == you ess\nSiobhan = /ʃɪˈvɔːn/\n")
    said = lexicon.apply("NGUYEN and Nguyens in the Living Room; US and us; Siobhan.", "en")
    assert said == f"win and Nguyens in the lounge; you ess and us; {mark('ʃɪˈvɔːn', 'Siobhan')}."
    assert as_words(said).endswith("; Siobhan.") and as_ipa(said).endswith("; [[ ʃɪˈvɔːn ]].")
    assert lexicon.apply("Nguyen", "de") == "Nguyen"  # another language's file
    assert lexicon.languages() == ["en"]


def test_a_changed_file_is_read_again_and_a_broken_one_once_reported(tmp_path, caplog):
    lexicon = Lexicon(tmp_path)
    path = tmp_path / "en.txt"
    path.write_text("Nguyen = win\n", encoding="utf-8")
    assert lexicon.apply("Nguyen", "en") == "win"
    path.write_text("Nguyen = new win\n", encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert lexicon.apply("Nguyen", "en") == "new win"
    with caplog.at_level(logging.WARNING):
        path.write_text("Nguyen win\n", encoding="utf-8")
        assert [lexicon.apply("Nguyen", "en") for _ in range(3)] == ["Nguyen"] * 3
    assert len(caplog.records) == 1 and "Line 1" in caplog.records[0].message
    path.unlink()
    assert lexicon.apply("Nguyen", "en") == "Nguyen"


def test_a_language_code_is_checked_and_a_refused_write_keeps_the_file(tmp_path):
    lexicon = Lexicon(tmp_path)
    with pytest.raises(LexiconError):
        lexicon.write("../etc", "a = b")
    lexicon.write("en", "a = b")
    with pytest.raises(LexiconError):
        lexicon.write("en", "broken")
    assert lexicon.read("en") == "a = b"


def test_the_page_edits_a_lexicon_that_the_next_request_uses(start_server, tmp_path):
    server, port = start_web(start_server, tmp_path, "--data-dir", str(tmp_path / "data"))
    page = WebPage(server, port)
    listed = page.get("api/lexicon").json()
    assert {"code": "en", "name": "English"} in listed["languages"] and listed["with_lexicon"] == []
    refused = page.change("PUT", "api/lexicon/en", json={"text": "blorft kitchen"})
    assert refused.status_code == 400 and "Line 1" in refused.json()["error"]["message"]
    assert page.change("PUT", "api/lexicon/en", csrf=False, json={"text": "blorft = kitchen"}).status_code == 403
    saved = page.change("PUT", "api/lexicon/en", json={"text": "blorft = kitchen\nzorp = /ˈkɪtʃən/\n"})
    assert saved.json() == {"entries": 2}
    assert (tmp_path / "data" / "lexicon" / "en.txt").read_text(encoding="utf-8").startswith("blorft = kitchen")
    assert page.get("api/lexicon/en").json()["text"].startswith("blorft = kitchen")
    _, figures = page.speak("en/joe", "Turn on the blorft lights.")
    assert figures["sentences"][0]["text"] == "Turn on the kitchen lights."
    answer = asyncio.run(one_shot(server.port, "Turn on the zorp lights.", "en/joe"))
    assert not answer.errors and answer.seconds > 1


@pytest.mark.slow
def test_a_listener_hears_the_lexicons_words(start_server, tmp_path):
    from tests.recognizer import Listener  # noqa: PLC0415

    (tmp_path / "data" / "lexicon").mkdir(parents=True)
    (tmp_path / "data" / "lexicon" / "en.txt").write_text("blorft = kitchen\nzorp = /ˈkɪtʃən/\n", encoding="utf-8")
    server, _ = start_web(start_server, tmp_path, "--data-dir", str(tmp_path / "data"))
    listener = Listener()
    for text in ("Turn on the blorft lights.", "Turn on the zorp lights."):
        heard = listener.hear(asyncio.run(one_shot(server.port, text, "en/joe")).samples).lower()
        assert "kitchen" in heard, (text, heard)

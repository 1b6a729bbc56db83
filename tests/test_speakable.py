"""Markdown and emoji made speakable, for whole texts and for deltas cut anywhere."""

import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from wyoming_streamtts.speakable import EMPHASIS_HOLD, HOLD, LABEL_HOLD, TAG_HOLD, SpeakableText, speakable
from wyoming_streamtts.splitter import split_sentences

# (answer, what is read): each row of the table and its neighbours.
CASES = [
    ("**Lights** are on.", "Lights are on."),
    ("__Lights__ are on.", "Lights are on."),
    ("***Very*** *much* _so_.", "Very much so."),
    ("The ~~old~~ new plan.", "The old new plan."),
    ("# Kitchen", "Kitchen"),
    ("### Kitchen ###\nAll good.", "Kitchen\nAll good."),
    ("* item one\n* item two", "item one\nitem two"),
    ("- item one\n  + nested item", "item one\nnested item"),
    ("• first\n• second", "first\nsecond"),
    ("- [ ] buy milk\n- [x] call mum", "buy milk\ncall mum"),
    ("> quoted\n> - item in a quote", "quoted\nitem in a quote"),
    ("Visit https://www.example.com/a now.", "Visit example.com now."),
    ("See http://example.org/path?q=1#top, then stop.", "See example.org, then stop."),
    ("Go to www.home-assistant.io.", "Go to home-assistant.io."),
    ("Read <https://www.example.com/docs>.", "Read example.com."),
    ("See [the docs](https://example.com/a_(b)) today.", "See the docs today."),
    ("A [**bold** link](x) here.", "A bold link here."),
    ("![a cat on a mat](cat.png) Look.", "a cat on a mat Look."),
    ("![](cat.png)Look.", "Look."),
    ("Done 🙂", "Done"),
    ("Family 👨‍👩‍👧 and flag 🇩🇪 and 👍🏽 ok ✅.", "Family and flag and ok ."),
    ("Use `light.kitchen` now.", "Use light.kitchen now."),
    ("Run ``a `b` c`` here.", "Run a `b` c here."),
    ("Here:\n```yaml\nlight:\n  - platform: x\n```\nThat is all.", "Here:\nThat is all."),
    ("~~~\ncode\n~~~\nAfter.", "After."),
    ("<b>Bold</b> and<br>more <!-- hidden --> text.", "Bold and more text."),
    ("| Room | Temp |\n|------|-----:|\n| Kitchen | 21 |", "Room, Temp\nKitchen, 21"),
    ("Above\n\n---\n\nBelow", "Above\nBelow"),
    ("\\*not emphasis\\* and \\# and \\_", "*not emphasis* and # and _"),
]

# Real text that looks like markdown: nothing of it may be eaten.
LITERAL = [
    "5 * 3 is 15.",
    "2*3=6",
    "snake_case_name",
    "C++ and C#",
    "10 - 5 = 5",
    "#1 hit of the year",
    "It costs $5.",
    "it's 5 < 6 and 7 > 3",
    "Prices may vary*.",
    "*Conditions apply.",
    "2**3 is 8",
    "a_b_c and x*y*z",
    "1. First\n2. Second",
    "Text with [1] a citation.",
    "Hello! How are you?",
    "AT&T and R&D",
    "what http means",
    "the www is wide",
]


def fold(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def in_two(text: str, cut: int) -> str:
    stage = SpeakableText()
    return stage.feed(text[:cut]) + stage.feed(text[cut:]) + stage.flush()


@pytest.mark.parametrize(("answer", "read"), CASES)
def test_markdown_is_read_as_a_person_would_read_it_however_the_deltas_are_cut(answer, read):
    lines = [fold(line) for line in speakable(answer).splitlines() if fold(line)]
    assert lines == read.splitlines()
    for cut in range(len(answer) + 1):  # cut inside `**`, between `]` and `(`, inside a URL or an emoji
        assert in_two(answer, cut) == speakable(answer), cut


@pytest.mark.parametrize("text", LITERAL)
def test_real_text_that_looks_like_markdown_is_kept(text):
    assert fold(speakable(text)) == fold(text)
    for cut in range(len(text) + 1):
        assert in_two(text, cut) == speakable(text), cut


def test_each_list_item_heading_and_table_row_is_a_sentence_of_its_own():
    answer = "## Status\nThe lights:\n* kitchen on\n* hall off\n| Room | Temp |\n|---|---|\n| Bath | 22 |"
    assert split_sentences(speakable(answer)) == [
        "Status",
        "The lights:",
        "kitchen on",
        "hall off",
        "Room, Temp",
        "Bath, 22",
    ]


def test_only_what_may_still_be_markup_is_held_back():
    stage = SpeakableText()
    assert stage.feed("The kitchen lights are on and the ") == "The kitchen lights are on and the "
    assert stage.feed("**hall") == "hall"  # a `**` needs no closer to be a marker
    assert stage.feed("** is off. Visit ww") == " is off. Visit "  # "ww" may become "www."
    assert stage.feed("w.example.co") == ""  # the host may go on
    assert stage.feed("m/kitchen/lights") == "example.com"  # its path is not read
    assert stage.feed(" now") == " now"
    # An opener that finds no closer is held back at most EMPHASIS_HOLD characters, then read as text.
    stage = SpeakableText()
    held = stage.feed("Note *" + "a" * (EMPHASIS_HOLD - 5))
    assert held == "Note "
    assert stage.feed("aaaaaa") == "*" + "a" * (EMPHASIS_HOLD - 5) + "aaaaaa"
    # So are a `<` that may open a tag and a `[` that may open a link.
    for opener, bound in (("<", TAG_HOLD), ("[", LABEL_HOLD)):
        stage = SpeakableText()
        assert stage.feed(f"if x{opener}y") == "if x"
        assert stage.feed(" then z" * (bound // 7 + 1)).startswith(f"{opener}y then z")


def test_a_half_emoji_at_a_delta_end_waits_for_its_other_half():
    stage = SpeakableText()
    # JSON's "\ud83d\ude42" cut between the two halves arrives as two lone surrogates.
    assert stage.feed("Done \ud83d") + stage.feed("\ude42 now") + stage.flush() == "Done  now"


PLAIN = st.text(alphabet="abcdefghijklmnopqrstuvwxyzAEIOUZ0123456789 .,?!'\n", max_size=200)
MARKED = st.text(alphabet="abcxyzAB019 .,!\n*_~#>-+|[]\\", max_size=200)


@given(PLAIN)
def test_text_without_markdown_characters_comes_out_unchanged(text):
    assume("www." not in text.lower())
    assert fold(speakable(text)) == fold(text)


@given(MARKED, st.integers(min_value=0, max_value=200))
def test_letters_and_digits_keep_their_order_and_cuts_change_nothing(text, cut):
    assume(not re.search(r"(^|\n)[ \t>]*~~~", text))  # a fenced code block is not read
    assert [c for c in speakable(text) if c.isalnum()] == [c for c in text if c.isalnum()]
    assert in_two(text, min(cut, len(text))) == speakable(text)


# Runs of one character that each delta used to scan again from their start: 20,000 of them sent
# in 1-7 character deltas cost 3.7-4.5 s of a server's CPU, against 0.3 s for 5,000.
RUNS = {  # the text, and what is read of it (a pattern: a host name is cut after about HOLD characters)
    "backticks": ("`" * 20_000, ""),
    "stars after a word": ("word" + "*" * 20_000, "word"),
    "a line of =": ("=" * 20_000, "={20000}"),
    "a line of -": ("-" * 20_000, ""),
    "a long host": ("See https://" + "a" * 20_000, f"See a{{{HOLD - 8},{HOLD + 8}}}"),
    "a table row's spaces": ("| a |" + " " * 20_000 + "| b |", " a, b"),
}


@pytest.mark.parametrize(("text", "reads"), RUNS.values(), ids=RUNS.keys())
def test_a_run_of_one_character_is_held_back_no_more_than_a_bound(text, reads):
    # Each delta costs at most what is held back (and held back is at most HOLD and a delta): linear in the text.
    stage, out, sizes = SpeakableText(), [], [1, 2, 3, 5, 7]
    held, start = [], 0
    for count in range(len(text)):
        end = min(len(text), start + sizes[count % len(sizes)])
        out.append(stage.feed(text[start:end]))
        held.append(stage.held)
        start = end
        if start == len(text):
            break
    out.append(stage.flush())
    assert max(held) <= HOLD + max(sizes)
    assert re.fullmatch(reads, "".join(out))

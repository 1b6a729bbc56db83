"""Sentence splitting, whole and fed in pieces cut anywhere."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wyoming_streamtts.phonemes import as_words, said_and_rest
from wyoming_streamtts.splitter import SentenceSplitter, first_clause_apart, split_sentences


def feed_in_pieces(text: str, size: int, max_chars: int = 250, first_clause_chars: int | None = None) -> list[str]:
    splitter = SentenceSplitter(max_chars, first_clause_chars)
    sentences = []
    for start in range(0, len(text), size):
        sentences += splitter.feed(text[start : start + size])
    return sentences + splitter.flush()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there. How are you?", ["Hello there.", "How are you?"]),
        ("It costs 3.5 euros. Cheap!", ["It costs 3.5 euros.", "Cheap!"]),
        ("Version 2.0.1 is out", ["Version 2.0.1 is out"]),
        (
            "Dr. Smith and Mrs. Jones met e.g. at noon. Then left.",
            ["Dr. Smith and Mrs. Jones met e.g. at noon.", "Then left."],
        ),
        ("J. R. R. Tolkien wrote it. I know.", ["J. R. R. Tolkien wrote it.", "I know."]),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("Wait... what?! Really.", ["Wait...", "what?!", "Really."]),
        ("你好。今天天气很好！你呢？", ["你好。", "今天天气很好！", "你呢？"]),
        ("「行こう。」と彼は言った。", ["「行こう。」", "と彼は言った。"]),
        ("no final punctuation here", ["no final punctuation here"]),
        ("Lig\x07hts\x00 on.\x1b\x7f Done.\x00", ["Lights on.", "Done."]),
        ("\x00\x01\x02.", []),
        ("First line\nSecond line\n\n- a list item", ["First line", "Second line", "- a list item"]),
        ("  spaced   out\ttext.  ", ["spaced out text."]),
        ("...", []),
        ("", []),
    ],
)
def test_split(text, expected):
    assert split_sentences(text) == expected


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
def test_pieces_cut_mid_word_give_the_same_sentences(size):
    text = "The price is 3.5 euros. Dr. Smith agrees! 你好。再见。Does it end? Yes"
    assert feed_in_pieces(text, size) == split_sentences(text)


def test_sentence_is_released_as_soon_as_it_is_complete():
    splitter = SentenceSplitter()
    assert splitter.feed("Turn on the li") == []
    assert splitter.feed("ghts.") == []  # "lights." could still become "lights.com"
    assert splitter.feed(" Then") == ["Turn on the lights."]
    assert splitter.feed(" the fan") == []
    assert splitter.flush() == ["Then the fan"]


def test_period_at_end_of_delta_waits_for_the_next_character():
    splitter = SentenceSplitter()
    assert splitter.feed("It is 3.") == []
    assert splitter.feed("5 degrees.") == []
    assert splitter.flush() == ["It is 3.5 degrees."]


def test_long_sentence_is_cut_at_a_clause_then_a_space():
    clause = "one two three four five, six seven eight nine ten eleven twelve"
    sentences = split_sentences(clause, max_chars=40)
    assert sentences == ["one two three four five,", "six seven eight nine ten eleven twelve"]
    words = " ".join(["word"] * 50)
    pieces = split_sentences(words, max_chars=40)
    assert all(len(piece) <= 40 for piece in pieces)
    assert " ".join(pieces) == words


def test_text_without_spaces_is_cut_hard():
    pieces = split_sentences("x" * 250, max_chars=100)
    assert [len(piece) for piece in pieces] == [100, 100, 50]


@given(st.text(alphabet=st.sampled_from(list("ab .!?,3\n。")), max_size=200), st.integers(1, 20))
def test_chunked_equals_whole_and_nothing_is_lost(text, size):
    sentences = feed_in_pieces(text, size, max_chars=40)
    assert sentences == split_sentences(text, max_chars=40)
    # Every letter and digit of the input is spoken exactly once, in order.
    assert [c for c in "".join(sentences) if c.isalnum()] == [c for c in text if c.isalnum()]
    assert all(len(sentence) <= 40 for sentence in sentences)


LLM_ANSWER = (
    "Good evening, the living room is at twenty one degrees, and the heating is off. "
    "Tomorrow will be cloudy, with rain in the afternoon, so take an umbrella. "
)


def test_a_long_first_sentence_is_released_at_its_first_clause_then_sentences_follow():
    # As Home Assistant passes an LLM's answer on: 7 characters at a time.
    assert feed_in_pieces(LLM_ANSWER, 7, first_clause_chars=40) == [
        "Good evening, the living room is at twenty one degrees,",  # "Good evening," is too short alone
        "and the heating is off.",
        "Tomorrow will be cloudy, with rain in the afternoon, so take an umbrella.",
    ]
    # Without the rule (and for whole text), whole sentences only.
    assert feed_in_pieces(LLM_ANSWER, 7) == split_sentences(LLM_ANSWER)
    assert len(split_sentences(LLM_ANSWER)) == 2


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("Hi there. Good evening, the living room is at twenty one degrees, and so on.", "Hi there."),
        (
            "The weather today is looking rather grim - rain all day, they say.",
            "The weather today is looking rather grim -",
        ),
        (
            "The temperature outside is now exactly 3,5 degrees and falling fast.",
            "The temperature outside is now exactly 3,5 degrees and falling fast.",
        ),
        (
            "A well-known and very well-liked restaurant nearby: closed on Mondays.",
            "A well-known and very well-liked restaurant nearby:",
        ),
    ],
)
def test_only_the_first_sentence_is_cut_and_only_at_a_real_clause_boundary(text, first):
    assert feed_in_pieces(text, 7, first_clause_chars=40)[0] == first


@given(
    st.text(alphabet=st.sampled_from(list("ab .!?,;-3\n。")), max_size=200),
    st.integers(1, 20),
    st.integers(1, 30),
)
def test_first_clause_rule_keeps_every_character_once_in_order(text, size, first_clause_chars):
    pieces = feed_in_pieces(text, size, max_chars=40, first_clause_chars=first_clause_chars)
    assert [c for c in "".join(pieces) if c.isalnum()] == [c for c in text if c.isalnum()]
    assert all(len(piece) <= 40 for piece in pieces)
    # The rule only ever ends the first piece sooner.
    plain = feed_in_pieces(text, size, max_chars=40)
    if plain:
        said, whole = ("".join(c for c in piece if c.isalnum()) for piece in (pieces[0], plain[0]))
        assert whole.startswith(said)


@pytest.mark.parametrize(
    ("sentence", "parts"),
    [
        ("The living room lights are on, and the kitchen is at 21 degrees.",
         ["The living room lights are on,", "and the kitchen is at 21 degrees."]),
        ("Yes, the lights in the kitchen are on.", ["Yes, the lights in the kitchen are on."]),  # "Yes," is no clause
        ("The kitchen lights are on, too.", ["The kitchen lights are on, too."]),  # nor is "too."
        ("The front door is locked.", ["The front door is locked."]),
        ("Tomorrow it will be sunny - and warm in the afternoon.",
         ["Tomorrow it will be sunny -", "and warm in the afternoon."]),
    ],
)  # fmt: skip
def test_a_first_clause_is_said_apart_only_when_both_parts_are_phrases(sentence, parts):
    said = first_clause_apart(sentence)
    assert [as_words(part) for part in said] == parts
    if len(said) == 2:  # the rest carries its clause, for an engine that says it within its sentence
        assert said_and_rest(said[1]) == tuple(parts)

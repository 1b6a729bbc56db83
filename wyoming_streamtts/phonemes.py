"""Words said by their sounds: an SSML `phoneme` or a lexicon's IPA entry, carried inside a sentence's text.

A span holds the IPA and the words it stands for, between three private-use characters that no stage before the
engine changes. Each engine takes what it can say: Piper its `[[ IPA ]]` (piper1's raw phonemes), eSpeak NG its
`[[mnemonics]]` (Kirshenbaum-like ASCII: IPA mapped symbol by symbol, close enough for names), every other engine
the words. Text from a client cannot open a span: intake removes the three characters.

A sentence's rest, said apart from its first clause, carries that clause before a fourth such character
(`after_said`): Piper says the rest as it sounds within the whole sentence; the other engines drop it.
"""

import re

_OPEN, _SEP, _CLOSE, _SAID = "\ue000", "\ue001", "\ue002", "\ue003"
_MARKERS = re.compile(f"[{_OPEN}{_SEP}{_CLOSE}{_SAID}]")
_SPAN = re.compile(f"{_OPEN}([^{_OPEN}{_SEP}{_CLOSE}]*){_SEP}([^{_OPEN}{_SEP}{_CLOSE}]*){_CLOSE}")

# IPA -> eSpeak NG's phoneme mnemonics, longest first; a symbol not listed passes as it is.
_ESPEAK = {
    "tʃ": "tS", "dʒ": "dZ", "eɪ": "eI", "aɪ": "aI", "ɔɪ": "OI", "əʊ": "oU", "oʊ": "oU", "aʊ": "aU", "ɪə": "i@",
    "eə": "e@", "ʊə": "U@", "ɜː": "3:", "ɑː": "A:", "ɔː": "O:", "iː": "i:", "uː": "u:", "ɪ": "I", "ɛ": "E",
    "æ": "a", "ɑ": "A", "ɒ": "0", "ɔ": "O", "ʊ": "U", "ʌ": "V", "ə": "@", "ɐ": "a#", "ɜ": "3", "ø": "Y",
    "œ": "W", "y": "y", "ʏ": "Y", "ɯ": "u-", "θ": "T", "ð": "D", "ʃ": "S", "ʒ": "Z", "ŋ": "N", "ɲ": "n^",
    "ɹ": "r", "ɾ": "*", "ʁ": "r", "ʀ": "r", "ç": "C", "x": "x", "ɣ": "Q", "ʔ": "?", "ɡ": "g", "ɫ": "l",
    "ʎ": "l^", "ɥ": "j<rnd>", "ˈ": "'", "ˌ": ",", "ː": ":", ".": "",
}  # fmt: skip
_ESPEAK_SYMBOL = re.compile("|".join(re.escape(symbol) for symbol in sorted(_ESPEAK, key=len, reverse=True)))


def mark(ipa: str, words: str) -> str:
    """`words`, to be said as `ipa` by the engines that speak IPA."""
    return f"{_OPEN}{unmarked(ipa)}{_SEP}{unmarked(words)}{_CLOSE}"


def unmarked(text: str) -> str:
    """Text with no span characters: what a client sends cannot say a word by sounds."""
    return _MARKERS.sub("", text)


def after_said(said: str, rest: str) -> str:
    """`rest`, the part of a sentence to say after `said` was said on its own."""
    return f"{said}{_SAID}{rest}"


def said_and_rest(sentence: str) -> tuple[str, str]:
    """What was said before (empty when nothing was) and what is to be said now."""
    said, marker, rest = sentence.partition(_SAID)
    return (said, rest) if marker else ("", sentence)


def as_words(sentence: str) -> str:
    """The sentence for an engine that reads words only."""
    return unmarked(_SPAN.sub(lambda span: span[2], said_and_rest(sentence)[1]))


def as_ipa(sentence: str) -> str:
    """The sentence for Piper: spans as `[[ IPA ]]`."""
    rest = said_and_rest(sentence)[1]
    return unmarked(_SPAN.sub(lambda span: f"[[ {_clean(span[1])} ]]" if _clean(span[1]) else span[2], rest))


def as_espeak(sentence: str) -> str:
    """The sentence for eSpeak NG: spans as `[[mnemonics]]`."""

    def mnemonics(span: re.Match[str]) -> str:
        ipa = _clean(span[1])
        return f"[[{_ESPEAK_SYMBOL.sub(lambda symbol: _ESPEAK[symbol[0]], ipa)}]]" if ipa else span[2]

    return unmarked(_SPAN.sub(mnemonics, said_and_rest(sentence)[1]))


def _clean(ipa: str) -> str:
    """IPA without the brackets that would end a `[[ ]]` block or the slashes it is often written between."""
    return re.sub(r"[\[\]/]", "", ipa).strip()

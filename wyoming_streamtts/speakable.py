"""What a person would read aloud of an answer written in markdown, for text cut anywhere.

LLM answers reach the server with their markdown (Home Assistant passes them on as they
are), and every engine reads `**` as "asterisk asterisk". This stage runs before sentence
splitting: emphasis markers go and their text stays, a heading, list item or table row
ends its line as a sentence of its own, a link is its label, a bare URL its host name, a
fenced code block and HTML tags are not read, emoji are dropped; `\\*` is a literal.

Its own scanner, not a markdown parser such as markdown-it-py: a parser reads whole
documents, so a stream would be re-parsed at every delta and could not say which part
of the text is settled; speech would wait for a blank line or the answer's end. Here each
character is decided as soon as what follows can no longer change it, and only what may
still turn out to be markup is held back (a line's first characters, an emphasis marker
until its closer, a link until its `](`), each within a bound of its own.

It never eats real text: a `*` or `_` that is not emphasis (`5 * 3`, `2*3=6`,
`snake_case_name`, a footnote's `*`) stays, and so do `#1`, `C++`, `10 - 5`.
"""

import re
import string

from .splitter import delta_code_points

# How far an emphasis opener looks for its closer, and a link's `[` for its `]`: past that
# (or a line's end) the marker is read as text.
EMPHASIS_HOLD = 80
LABEL_HOLD = 120
TAG_HOLD = 120
# The most text held back undecided, and the most of a line looked at: past it, what is held is
# decided as if the text ended there. So a run of one character (20,000 backticks, a line of `=`)
# costs the same per character as any text, however it is cut into deltas.
HOLD = 256

_PUNCTUATION = frozenset(string.punctuation)
_URL_PREFIXES = ("https://", "http://", "www.")
_HOST = re.compile(r"[^\s/?#:<>()\[\]\"'`|*]+")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>|<!--.*?-->|<![^<>]*>")
_AUTOLINK = re.compile(r"<((?:https?://|www\.)[^\s<>]*)>", re.IGNORECASE)
_BLOCK_TAGS = frozenset("br p div li ul ol tr td th table hr h1 h2 h3 h4 h5 h6 blockquote pre".split())
_RULE = re.compile(r"[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*")
_FENCE_CLOSE = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*")
_LINE_MARKERS = "-*+•"

# Pictographs and the characters that join or modify them (ZWJ, variation selectors, skin
# tones, keycaps, tags): dropped one code point at a time, so a sequence cut between two
# deltas goes just the same.
_PICTOGRAPHS = re.compile(
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u231a\u231b\u2328\u23cf"
    "\u23e9-\u23f3\u23f8-\u23fa\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe\u3030\u303d\u3297\u3299\u2022"
    "\u200d\ufe0e\ufe0f\u20e3\U000e0020-\U000e007f]"
)

_Step = tuple[str, int] | None  # what a position gives (text, next position), or None: more text is needed


class SpeakableText:
    """Turns deltas of a markdown answer into speakable text, in order, as early as it is settled."""

    def __init__(self) -> None:
        self._buffer = ""  # text not decided yet
        self._high_surrogate = ""  # half an emoji whose other half is in the next delta
        self._prev = "\n"  # the last character decided, for the rules that look behind a marker
        self._line_start = True
        self._fence: str | None = None  # the marker of the fenced code block being skipped
        self._heading = False
        self._table = False  # this line is a table row: its cells are clauses
        self._code = 0  # the backtick count of an open inline code span
        self._open: set[str] = set()  # single `*` or `_` emphasis opened on this line
        self._in_url = False  # the rest of a URL after its host: not read
        self._link_depth = 0  # inside a link's `(destination)`: not read
        self._item_start = False  # just after a list marker, where a task box `[ ]` or `[x]` may stand

    @property
    def held(self) -> int:
        """How many characters are held back, not decided yet (at most HOLD and a delta)."""
        return len(self._buffer)

    def feed(self, text: str) -> str:
        """Add a delta; return the speakable text it settles."""
        text, self._high_surrogate = delta_code_points(self._high_surrogate, text)
        self._buffer += text
        return self._run(final=False)

    def flush(self) -> str:
        """The text has ended: return the rest."""
        self._high_surrogate = ""
        return self._run(final=True)

    def _run(self, final: bool) -> str:
        buffer, out, i = self._buffer, [], 0
        while i < len(buffer):
            step = self._step(buffer, i, final or len(buffer) - i > HOLD)
            if step is None:
                break
            text, end = step
            out.append(text)
            if end > i:
                self._prev = buffer[end - 1]
            i = end
        self._buffer = buffer[i:]
        return "".join(out)

    def _step(self, buf: str, i: int, final: bool) -> _Step:
        char = buf[i]
        if char == "\n":
            return self._newline(i)
        if self._fence is not None:
            return self._in_fence(buf, i, final)
        if self._link_depth:
            return self._link_destination(char, i)
        if self._in_url:
            return self._url_rest(buf, i, final)
        if self._line_start:
            return self._line_marker(buf, i, final)
        if self._code:
            return self._code_span(buf, i, final) if char == "`" else (char, i + 1)
        return self._inline(buf, i, final)

    def _newline(self, i: int) -> _Step:
        self._line_start = True
        self._heading = self._table = self._in_url = False
        self._code, self._link_depth = 0, 0
        self._open.clear()
        return "\n", i + 1

    def _in_fence(self, buf: str, i: int, final: bool) -> _Step:
        """A fenced code block is not read: its lines are dropped up to the closing fence."""
        fence = self._fence or "```"
        if not self._line_start:
            end = buf.find("\n", i)
            return "", len(buf) if end < 0 else end
        line, complete = _line_at(buf, i, final)
        match = _FENCE_CLOSE.fullmatch(line)
        if not complete:
            if re.fullmatch(r" {0,3}(`*|~*)[ \t]*", line):
                return None  # may still be the closing fence
            self._line_start = False
            return "", i + len(line)
        if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
            self._fence = None
        self._line_start = False
        return "", i + len(line)

    def _line_marker(self, buf: str, i: int, final: bool) -> _Step:
        """A line's start: heading, list item, quote, table row, rule or code fence, or plain text."""
        char = buf[i]
        if char in " \t":
            return "", i + 1
        line, complete = _line_at(buf, i, final)
        if char in "-*_" and re.fullmatch(r"([-*_])(?:[ \t]*\1)*[ \t]*", line):
            if not complete:
                return None  # "--" may still become a rule
            if _RULE.fullmatch(line):
                return "", i + len(line)
        run = _run_length(buf, i)
        if i + run == len(buf) and not final:
            return None
        after = buf[i + run] if i + run < len(buf) else " "
        if char == "#" and run <= 6 and after in " \t\n":
            self._line_start, self._heading = False, True
            return "", i + run
        if char == ">":
            return "", i + 1  # a quote's text is read; a marker after it (a list in a quote) too
        if char in _LINE_MARKERS and run == 1 and after in " \t":
            self._line_start, self._item_start = False, True
            return "", i + 1
        if char in "`~" and run >= 3:
            self._fence, self._line_start = char * run, False
            return "", i + run
        if char == "|":
            if re.fullmatch(r"[|:\- \t]*", line):
                if not complete:
                    return None  # may be the row under the header: "|---|:--:|"
                if "-" in line:
                    return "", i + len(line)
            self._line_start, self._table = False, True
            return "", i + 1
        self._line_start = False
        return self._inline(buf, i, final)

    def _inline(self, buf: str, i: int, final: bool) -> _Step:
        char = buf[i]
        if self._item_start and char == "[":
            box = buf[i : i + 4]
            if len(box) < 4 and not final:
                return None  # a task box may be cut: "- [" then "x] done"
            if re.fullmatch(r"\[[ xX]\][ \t]", box):
                self._item_start = False
                return "", i + 3
        self._item_start = self._item_start and char in " \t"
        if char in "*_~":
            return self._delimiters(buf, i, final)
        if char == "`":
            return self._code_span(buf, i, final)
        if char == "\\":
            if i + 1 == len(buf):
                return ("\\", i + 1) if final else None
            escaped = buf[i + 1]
            return (escaped, i + 2) if escaped in _PUNCTUATION else ("\\", i + 1)
        if char == "[" or (char == "!" and buf.startswith("[", i + 1)):
            return self._link(buf, i, i + (char == "!"), final)
        if char == "!" and i + 1 == len(buf) and not final:
            return None  # an image's `![` may be cut after its `!`
        if char == "<":
            return self._tag(buf, i, final)
        if self._table and char in "| \t":
            return self._cell_end(buf, i, final)
        if char == "#" and self._heading and self._prev in " \t":
            return self._closing_hashes(buf, i, final)
        if char in "hHwW" and not (self._prev.isalnum() or self._prev in "/.@:-_"):
            return self._url(buf, i, final)
        if _PICTOGRAPHS.match(char):
            return "", i + 1
        return char, i + 1

    def _delimiters(self, buf: str, i: int, final: bool) -> _Step:
        """`*`, `_` and `~` runs: emphasis and strike-through markers go, everything else stays."""
        char, run = buf[i], _run_length(buf, i)
        if i + run == len(buf) and not final:
            return None  # the run, or what follows it, is still coming
        marker = buf[i : i + run]
        before, after = self._prev, buf[i + run] if i + run < len(buf) else "\n"
        opens, closes = _flanking(before, after)
        if run >= 2:
            intraword = before.isalnum() and after.isalnum() and (char != "*" or before.isdigit())
            drop = (opens or closes) and not intraword and (char != "~" or run == 2)
            return ("" if drop else marker), i + run
        if char == "~":
            return marker, i + 1
        if char in self._open and closes and not after.isalnum():
            self._open.discard(char)
            return "", i + 1
        if opens and not before.isalnum():
            found = _find_closer(buf, i + 1, char, final)
            if found is None:
                return None
            if found:
                self._open.add(char)
                return "", i + 1
        return marker, i + 1

    def _code_span(self, buf: str, i: int, final: bool) -> _Step:
        """Inline code keeps its text; its backticks go."""
        run = _run_length(buf, i)
        if i + run == len(buf) and not final:
            return None
        if not self._code:
            self._code = run
        elif run == self._code:
            self._code = 0
        else:
            return buf[i : i + run], i + run
        return "", i + run

    def _link(self, buf: str, i: int, bracket: int, final: bool) -> _Step:
        """`[label](url)` is its label, `![alt](url)` its alt text; `[1]` on its own stays."""
        close = buf.find("]", bracket + 1, bracket + 1 + LABEL_HOLD)
        newline = buf.find("\n", bracket + 1, close if close >= 0 else bracket + 1 + LABEL_HOLD)
        if close < 0 or newline >= 0:
            if newline < 0 and not final and len(buf) < bracket + 1 + LABEL_HOLD:
                return None
            return buf[i], i + 1
        if close + 1 == len(buf) and not final:
            return None  # cut between `]` and `(`
        if not buf.startswith("(", close + 1):
            return buf[i], i + 1
        label = SpeakableText()
        label._line_start = False
        self._link_depth = 1
        return label.feed(buf[bracket + 1 : close]) + label.flush(), close + 2

    def _link_destination(self, char: str, i: int) -> _Step:
        self._link_depth += {"(": 1, ")": -1}.get(char, 0)
        return "", i + 1

    def _tag(self, buf: str, i: int, final: bool) -> _Step:
        """HTML tags go (a block tag leaves a space); `<https://…>` is its host; `5 < 6` stays."""
        close = buf.find(">", i + 1, i + 1 + TAG_HOLD)
        if close < 0:
            line_ends = "\n" in buf[i : i + TAG_HOLD] or len(buf) >= i + TAG_HOLD
            could_be_tag = re.match(r"<[/!A-Za-z]", buf[i : i + 2]) or len(buf) == i + 1
            return None if could_be_tag and not (final or line_ends) else ("<", i + 1)
        text = buf[i : close + 1]
        if "\n" in text:
            return "<", i + 1
        if link := _AUTOLINK.fullmatch(text):
            return _host(link.group(1)), close + 1
        if not _TAG.fullmatch(text):
            return "<", i + 1
        name = re.match(r"</?([A-Za-z0-9]*)", text)
        return (" " if name and name.group(1).lower() in _BLOCK_TAGS else ""), close + 1

    def _cell_end(self, buf: str, i: int, final: bool) -> _Step:
        """A table cell's `|` is a clause's end (the spaces before it go); the row's last one ends nothing."""
        line, complete = _line_at(buf, i, final)
        rest = line.lstrip(" \t")
        if not rest:
            return ("", i + len(line)) if complete else None
        if rest[0] != "|":
            return line[: len(line) - len(rest)], i + len(line) - len(rest)
        pipe = i + len(line) - len(rest)
        if rest[1:].strip():
            return ",", pipe + 1
        return ("", pipe + 1) if complete else None

    def _closing_hashes(self, buf: str, i: int, final: bool) -> _Step:
        run = _run_length(buf, i)
        if i + run == len(buf) and not final:
            return None
        line, complete = _line_at(buf, i + run, final)
        if line.strip():
            return buf[i : i + run], i + run
        return ("", i + run) if complete else None

    def _url(self, buf: str, i: int, final: bool) -> _Step:
        """A bare URL is read as its host name, without scheme or `www.`; its path is not read."""
        lower = buf[i : i + 8].lower()
        prefix = next((p for p in _URL_PREFIXES if lower.startswith(p)), None)
        if prefix is None:
            cut = len(buf) - i
            maybe = not final and cut < 8 and any(p.startswith(lower) for p in _URL_PREFIXES)
            return None if maybe else (buf[i], i + 1)
        host = _HOST.match(buf, i + len(prefix))
        end = host.end() if host else i + len(prefix)
        if end == len(buf) and not final:
            return None  # the host name is still coming
        while end > i + len(prefix) and buf[end - 1] in ".,;!?-":
            end -= 1  # the sentence's punctuation, not the host's
        self._in_url = True
        return _host(buf[i:end]), end

    def _url_rest(self, buf: str, i: int, final: bool) -> _Step:
        char = buf[i]
        if char.isspace() or char in ")]>\"'":
            self._in_url = False
            return "", i
        if char in ".,;:!?":
            if i + 1 == len(buf) and not final:
                return None
            if i + 1 == len(buf) or buf[i + 1].isspace() or buf[i + 1] in ")]":
                self._in_url = False  # punctuation after the URL is the sentence's
                return "", i
        return "", i + 1


def speakable(text: str) -> str:
    """A whole text, made speakable."""
    stage = SpeakableText()
    return stage.feed(text) + stage.flush()


def _host(url: str) -> str:
    host = re.sub(r"^(?:[a-z][a-z0-9+.-]*://)?(?:www\.)?", "", url, flags=re.IGNORECASE)
    match = _HOST.match(host)
    return match.group().rstrip(".") if match else ""


def _run_length(buf: str, i: int) -> int:
    end = i
    while end < len(buf) and buf[end] == buf[i]:
        end += 1
    return end - i


def _line_at(buf: str, i: int, final: bool) -> tuple[str, bool]:
    """The rest of the line from `i` (without its newline), and whether all of it has come; a line
    longer than HOLD is judged by its first HOLD characters."""
    end = buf.find("\n", i, i + HOLD)
    if end < 0:
        return buf[i : i + HOLD], final or len(buf) - i >= HOLD
    return buf[i:end], True


def _flanking(before: str, after: str) -> tuple[bool, bool]:
    """CommonMark's left- and right-flanking rules: whether a marker can open, and close, emphasis."""
    opens = not after.isspace() and (after not in _PUNCTUATION or before.isspace() or before in _PUNCTUATION)
    closes = not before.isspace() and (before not in _PUNCTUATION or after.isspace() or after in _PUNCTUATION)
    return opens, closes


def _find_closer(buf: str, start: int, char: str, final: bool) -> bool | None:
    """Whether a single `char` closes an emphasis on this line within EMPHASIS_HOLD; None: not known yet."""
    end = min(len(buf), start + EMPHASIS_HOLD)
    for j in range(start, end):
        if buf[j] == "\n":
            return False
        if buf[j] != char or buf[j - 1] == char or buf[j - 1].isspace():
            continue
        if j + 1 == len(buf):
            return None if not final else True
        if buf[j + 1] != char and not buf[j + 1].isalnum():
            return True
    return False if final or end == start + EMPHASIS_HOLD else None

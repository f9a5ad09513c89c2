"""Incremental detokenisation: released pieces never change, never cut a character, never
show the start of a stop sequence that then completes."""

from __future__ import annotations

from lingshu.inference.decoding import IncrementalText


class ByteTokenizer:
    """A byte-level tokenizer in miniature: each id is a byte string, as in BPE vocabularies
    where one character may span several tokens."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    def decode(self, ids, skip_special_tokens=True):
        return b"".join(self.pieces[i] for i in ids).decode("utf-8", errors="replace")


def feed(text: IncrementalText, ids):
    out = []
    for i in ids:
        piece, stopped = text.add(i)
        out.append(piece)
        if stopped:
            return out, True
    out.append(text.finish())
    return out, False


def test_multibyte_character_is_released_whole():
    # "肺" is e8 82 ba in UTF-8: three tokens, one character.
    tok = ByteTokenizer([b"CT ", b"\xe8", b"\x82", b"\xba", b" ok"])
    pieces, stopped = feed(IncrementalText(tok), [0, 1, 2, 3, 4])
    assert not stopped
    assert pieces == ["CT ", "", "", "肺", " ok", ""]
    assert "".join(pieces) == "CT 肺 ok"


def test_stop_sequence_split_over_tokens_is_never_shown():
    # Stop "###": after " #" only the space is safe; "#" and "##" could still become "###".
    tok = ByteTokenizer([b"Answer: B", b" #", b"#", b"# more"])
    text = IncrementalText(tok, stops=("###",))
    pieces, stopped = feed(text, [0, 1, 2, 3])
    assert stopped
    assert pieces == ["Answer: B", " ", "", ""]
    assert text.text == "Answer: B "
    assert "".join(pieces) == text.text


def test_held_back_prefix_is_released_when_it_does_not_complete():
    tok = ByteTokenizer([b"a #", b"b", b"c"])
    text = IncrementalText(tok, stops=("##",))
    pieces, stopped = feed(text, [0, 1, 2])
    assert not stopped
    assert pieces == ["a ", "#b", "c", ""]
    assert text.text == "a #bc"


def test_earliest_of_several_stops_wins():
    tok = ByteTokenizer([b"x END y STOP"])
    text = IncrementalText(tok, stops=("STOP", "END"))
    pieces, stopped = feed(text, [0])
    assert stopped and text.text == "x " and pieces == ["x "]


def test_finish_releases_held_text_and_drops_a_torn_character():
    tok = ByteTokenizer([b"ends with #", b"\xe8\x82"])
    text = IncrementalText(tok, stops=("##",))
    pieces, stopped = feed(text, [0, 1])
    assert not stopped
    assert "".join(pieces) == "ends with #"
    assert text.text == "ends with #"

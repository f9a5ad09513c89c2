"""The message builders every area uses (issue 18: six hand-written copies before)."""

from __future__ import annotations

import json

from lingshu.inference import assistant_message, conversation, user_message


def test_user_message_puts_images_first():
    assert user_message("Is there a fracture?", ["/a.png", "/b.png"]) == {
        "role": "user",
        "content": [
            {"type": "image", "image": "/a.png"},
            {"type": "image", "image": "/b.png"},
            {"type": "text", "text": "Is there a fracture?"},
        ],
    }


def test_existing_image_parts_are_kept_as_they_are():
    part = {"type": "image", "image": "/a.png", "max_pixels": 100}
    assert user_message("Q", [part])["content"] == [part, {"type": "text", "text": "Q"}]


def test_conversation_serialises_as_the_curated_files_did():
    # The exact JSON written by data/curate/record.py before the builders were shared.
    before = (
        '[{"role": "user", "content": [{"type": "image", "image": "x.png"}, '
        '{"type": "text", "text": "q"}]}, {"role": "assistant", "content": '
        '[{"type": "text", "text": "a"}]}]'
    )
    assert json.dumps(conversation("q", "a", ["x.png"])) == before
    assert assistant_message("a") == {"role": "assistant", "content": [{"type": "text", "text": "a"}]}
    assert user_message("only text") == {
        "role": "user", "content": [{"type": "text", "text": "only text"}]
    }  # fmt: skip

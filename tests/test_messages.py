"""The bot's texts: language choice and completeness."""

from __future__ import annotations

import dataclasses

from bot.telegram.texts import EN, IT, language, texts


def test_language_from_telegram_code():
    assert language("en") == language("en-GB") == language("EN-us") == "en"
    assert language("it") == language("de") == language(None) == language("") == "it"
    assert texts("en") is EN and texts("it") is IT


def test_every_text_exists_in_both_languages_with_the_same_placeholders():
    import string

    for f in dataclasses.fields(IT):
        it, en = getattr(IT, f.name), getattr(EN, f.name)
        assert it and en, f.name
        if isinstance(it, str):
            names = lambda s: {n for _, n, _, _ in string.Formatter().parse(s) if n}  # noqa: E731
            assert names(it) == names(en), f.name


def test_italian_uses_tu_not_lei():
    all_italian = " ".join(str(getattr(IT, f.name)) for f in dataclasses.fields(IT))
    assert " Lei " not in all_italian and "La preghiamo" not in all_italian
    assert "scrivimi" in all_italian.lower()


def test_commands_match_between_languages():
    assert len(IT.commands) == len(EN.commands)
    assert all(name.islower() and len(desc) <= 256 for name, desc in IT.commands + EN.commands)

"""Checking one diary entry against the built-in diary definition."""

from __future__ import annotations

import pytest

from app.instruments import builtin_definition, check_diary_entry

DIARY = builtin_definition("diary")


def test_a_full_entry_passes() -> None:
    check_diary_entry(
        DIARY,
        {
            "valence": -2,
            "what_happened": "Tijdens het buitenspelen liep het uit de hand.",
            "anger": 3,
            "helplessness": 2,
            "anxiety": 0,
            "joy": 0,
            "guilt": 1,
            "pride": 0,
            "genuine": 1,
            "hidden": 3,
            "faked": 0,
            "reappraised": 2,
            "child_behaviour": ["outburst", "withdrew"],
            "child_felt": "Misschien schaamde die zich.",
        },
    )


def test_only_valence_is_required() -> None:
    check_diary_entry(DIARY, {"valence": 0})
    with pytest.raises(ValueError, match='field "valence": an answer is required'):
        check_diary_entry(DIARY, {"anger": 2})


# (case, entry, expected message)
BAD_ENTRIES: list[tuple[str, dict[str, object], str]] = [
    ("unknown field", {"valence": 1, "shame": 2}, 'no field\\(s\\) "shame"'),
    ("valence below -3", {"valence": -4}, 'field "valence": -4 is outside the scale -3 to 3'),
    ("emotion above 4", {"valence": 1, "joy": 5}, 'field "joy": 5 is outside the scale 0 to 4'),
    ("rating as text", {"valence": "2"}, "field \"valence\": '2' is not a whole number"),
    ("rating as bool", {"valence": True}, 'field "valence": True is not a whole number'),
    ("unknown tag", {"valence": 1, "child_behaviour": ["sulked"]}, "unknown tag\\(s\\) 'sulked'"),
    ("tags as text", {"valence": 1, "child_behaviour": "withdrew"}, "expected a list of tags"),
    (
        "tag twice",
        {"valence": 1, "child_behaviour": ["withdrew", "withdrew"]},
        "a tag is listed more than once",
    ),
    ("text too long", {"valence": 1, "child_felt": "x" * 1001}, "the limit is 1000"),
    ("text as a number", {"valence": 1, "child_felt": 3}, "expected text"),
]


@pytest.mark.parametrize(
    ("entry", "message"),
    [case[1:] for case in BAD_ENTRIES],
    ids=[case[0] for case in BAD_ENTRIES],
)
def test_it_rejects_bad_entries(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_diary_entry(DIARY, entry)  # type: ignore[arg-type]


def test_a_questionnaire_is_not_a_diary() -> None:
    with pytest.raises(ValueError, match="not a diary"):
        check_diary_entry(builtin_definition("relationship"), {})

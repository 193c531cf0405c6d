"""The questionnaire list, the preview in every language and setting, and trying one out."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest
from babel.numbers import format_decimal
from sqlalchemy import func
from sqlmodel import Session, select

from app.i18n import gettext as _
from app.i18n import using_locale
from app.instruments import (
    LOCALES,
    SECTORS,
    InstrumentDefinition,
    builtin_definition,
    load_builtin,
    render_instructions,
    render_text,
    score_response,
)
from app.models import AuditEvent, OrganisationInstrument
from app.questionnaires import service
from app.templating import environment
from tests.conftest import Cast, Client

BUILTINS = sorted(load_builtin().values(), key=lambda d: (d.key, d.version))
NAME = "Noor"


def ref(definition: InstrumentDefinition) -> str:
    return f"{definition.key}-v{definition.version}"


def texts(definition: InstrumentDefinition, locale: str, sector: str) -> list[str]:
    """Every question text of an instrument as the form must show it."""
    parts = definition.fields if definition.kind == "diary" else definition.items
    return [render_text(part, locale, sector, NAME) for part in parts]  # type: ignore[arg-type]


def unescaped(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.text)


def try_out(client: Client, definition: InstrumentDefinition, answers: dict[str, object]):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {"instrument": ref(definition), "locale": "nl", "name": NAME}
    data.update({f"item-{key}": value for key, value in answers.items()})
    return client.post_form("/instruments/preview", data)


def checked(response, key: str, value: int) -> bool:  # type: ignore[no-untyped-def]
    pattern = rf'id="item-{key}-{value}" name="item-{key}" value="{value}" checked'
    return re.search(pattern, response.text) is not None


def message(text: str, **variables: object) -> str:
    with using_locale("nl"):
        return _(text, **variables)


# --- the list ----------------------------------------------------------------------------


def test_the_list_shows_every_built_in_instrument(client: Client, cast: Cast) -> None:
    response = client.login_as(cast.admin).get("/instruments")
    assert response.status_code == 200
    page = unescaped(response)
    for definition in BUILTINS:
        assert definition.title.nl in page
        assert f"<code>{definition.key}</code>" in page
        assert f"/instruments/preview?instrument={ref(definition)}" in page
        for subscale in definition.subscales:
            assert subscale.label.nl in page
    assert "/admin/instruments/upload" in page


def test_coaches_see_the_list_without_the_upload_button(client: Client, cast: Cast) -> None:
    response = client.login_as(cast.coach).get("/instruments")
    assert response.status_code == 200
    assert "/admin/instruments/upload" not in response.text
    assert 'href="/instruments" aria-current="page"' in response.text


def test_the_menu_shows_questionnaires_to_admins_and_coaches_only(
    client: Client, cast: Cast
) -> None:
    for user, shown in ((cast.admin, True), (cast.coach, True), (cast.professional, False)):
        page = client.login_as(user).get("/home").text
        assert ('href="/instruments"' in page) is shown


# --- the preview -------------------------------------------------------------------------


@pytest.mark.parametrize("definition", BUILTINS, ids=ref)
def test_the_preview_renders_every_builtin_in_every_language_and_setting(
    client: Client, cast: Cast, definition: InstrumentDefinition
) -> None:
    client.login_as(cast.coach)
    for locale in LOCALES:
        other = "en" if locale == "nl" else "nl"
        for sector in SECTORS:
            params = {"instrument": ref(definition), "locale": locale, "sector": sector}
            response = client.get("/instruments/preview", params={**params, "name": NAME})
            assert response.status_code == 200, (locale, sector)
            page = unescaped(response)
            assert "{name}" not in page
            instructions = render_instructions(definition, locale, sector, NAME)
            assert NAME in instructions
            assert instructions in page
            assert definition.title.get(locale) in page
            for text in texts(definition, locale, sector):
                assert text in page, (locale, sector, text)
            first, first_other = (
                texts(definition, locale, sector)[0],
                texts(definition, other, sector)[0],
            )
            if first != first_other:
                assert first_other not in page
            assert f'lang="{locale}"' in page


def test_the_dutch_preview_has_dutch_item_text(client: Client, cast: Cast) -> None:
    client.login_as(cast.admin)
    response = client.get("/instruments/preview?instrument=relationship-v1&locale=nl&name=Sam")
    page = unescaped(response)
    definition = builtin_definition("relationship", 1)
    assert definition.items[0].text.nl.replace("{name}", "Sam") in page
    assert definition.scale is not None
    assert definition.scale.anchors[0].label.nl in page
    assert definition.items[0].text.en.replace("{name}", "Sam") not in page


def test_sector_wording_is_used_where_the_file_has_it(client: Client, cast: Cast) -> None:
    client.login_as(cast.admin)
    for definition in BUILTINS:
        parts = definition.fields if definition.kind == "diary" else definition.items
        for part in parts:
            for sector in part.text.sectors:
                response = client.get(
                    "/instruments/preview",
                    params={"instrument": ref(definition), "sector": sector, "locale": "en"},
                )
                expected = render_text(part, "en", sector, "Sam")  # type: ignore[arg-type]
                assert expected in unescaped(response)


def test_the_scale_is_a_labelled_radio_group_per_item(client: Client, cast: Cast) -> None:
    client.login_as(cast.admin)
    response = client.get("/instruments/preview?instrument=efficacy-v1&locale=en")
    definition = builtin_definition("efficacy", 1)
    assert definition.scale is not None
    page = response.text
    assert page.count('<fieldset class="instrument-question"') == len(definition.items)
    first = definition.items[0].key
    assert f'id="item-{first}"' in page
    for value in range(definition.scale.min, definition.scale.max + 1):
        assert f'<label class="scale-point" for="item-{first}-{value}">' in page
        assert f'id="item-{first}-{value}" name="item-{first}" value="{value}"' in page
    for anchor in definition.scale.anchors:
        assert html.escape(anchor.label.en, quote=False) in page


def test_the_diary_renders_scales_tags_and_a_limited_text(client: Client, cast: Cast) -> None:
    client.login_as(cast.admin)
    response = client.get("/instruments/preview?instrument=diary-v1&locale=en&name=Sam")
    page = unescaped(response)
    definition = builtin_definition("diary", 1)
    assert page.count('class="instrument-group"') == len(definition.groups)
    tags = definition.field("child_behaviour")
    for option in tags.options:
        assert f'type="checkbox" id="item-child_behaviour-{option.key}"' in page
        assert option.label.en in page
    text_field = definition.field("child_felt")
    assert f'maxlength="{text_field.max_length}"' in page
    assert message("At most %(limit)s characters.", limit=text_field.max_length) in page
    # Valence runs from −3 to +3; the signs are shown, the values stay plain.
    assert 'value="-3"' in page and "\u22123" in page and "+3" in page
    assert f"({message('required')})" in page


def test_unknown_choices_fall_back_and_unknown_instruments_are_404(
    client: Client, cast: Cast
) -> None:
    client.login_as(cast.admin)
    fallback = client.get("/instruments/preview?locale=xx&sector=moon&name=")
    assert fallback.status_code == 200
    assert 'value="Sam"' in fallback.text
    for bad in ("nothing-v1", "relationship-v99", "relationship", "../etc", "x" * 300):
        assert client.get(f"/instruments/preview?instrument={bad}").status_code == 404


def test_htmx_gets_only_the_preview_block(client: Client, cast: Cast) -> None:
    client.login_as(cast.admin)
    response = client.get(
        "/instruments/preview?instrument=pulse-v1&locale=en", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "<html" not in response.text
    assert response.text.lstrip().startswith('<div id="preview"')


def test_without_a_save_url_no_item_posts_itself(client: Client, cast: Cast) -> None:
    response = client.login_as(cast.admin).get("/instruments/preview?instrument=pulse-v1")
    assert "hx-post" not in response.text.split('id="preview"')[1]


def test_with_a_save_url_every_question_posts_only_its_own_answer() -> None:
    definition = builtin_definition("pulse", 1)
    form = service.build_form(definition, locale="nl", sector="childcare", name="Sam")
    template = environment.from_string(
        '{% import "macros/instrument.html" as instrument %}'
        '{{ instrument.instrument_fields(form, save_url="/sessions/7/answers") }}'
    )
    page = template.render(form=form)
    for item in definition.items:
        anchor = f"item-{item.key}"
        assert (
            f'id="{anchor}" tabindex="-1" hx-post="/sessions/7/answers" hx-trigger="change" '
            f'hx-include="#{anchor}" hx-params="{anchor}" hx-target="#{anchor}-saved" '
            # Queued: two answers saved at once could overwrite each other's merge.
            'hx-swap="innerHTML" hx-sync="closest .instrument:queue all"'
        ) in page
        assert f'id="{anchor}-saved" aria-live="polite"' in page


# --- trying it out -----------------------------------------------------------------------


def test_missing_answers_are_listed_and_the_given_ones_kept(client: Client, cast: Cast) -> None:
    definition = builtin_definition("relationship", 1)
    given = {item.key: 1 + n % 5 for n, item in enumerate(definition.items) if n % 2 == 0}
    client.login_as(cast.coach)
    response = try_out(client, definition, given)
    assert response.status_code == 422
    assert 'class="error-summary"' in response.text
    for number, item in enumerate(definition.items, start=1):
        link = f'<a href="#item-{item.key}">'
        if item.key in given:
            assert link not in response.text
            assert checked(response, item.key, given[item.key])
        else:
            expected = message("Choose an answer to question %(number)s.", number=number)
            assert f"{link}{expected}</a>" in unescaped(response)
            assert f'id="item-{item.key}-error"' in response.text
    assert "try-out-result" not in response.text


def test_all_answers_show_the_scores(client: Client, cast: Cast, db: Session) -> None:
    definition = builtin_definition("relationship", 1)
    answers = {item.key: 1 + n % 5 for n, item in enumerate(definition.items)}
    client.login_as(cast.coach)
    response = try_out(client, definition, answers)
    assert response.status_code == 200
    assert "error-summary" not in response.text
    page = unescaped(response)
    scores = score_response(definition, answers)
    for subscale in definition.subscales:
        value = scores[subscale.key].value
        assert value is not None
        shown = format_decimal(value, format="#,##0.##", locale="nl")
        assert re.search(
            rf"<th scope=\"row\">{subscale.label.nl}</th>\s*<td class=\"score\">{shown}", page
        ), subscale.key
    for key, value in answers.items():
        assert checked(response, key, value)
    # Nothing is stored by a try-out.
    assert db.exec(select(func.count()).select_from(AuditEvent)).one() == 0
    assert db.exec(select(func.count()).select_from(OrganisationInstrument)).one() == 0


@pytest.mark.parametrize("key", ["strain", "pulse", "efficacy", "empathy", "alliance"])
def test_every_scored_builtin_can_be_tried(client: Client, cast: Cast, key: str) -> None:
    definition = builtin_definition(key)
    assert definition.scale is not None
    answers = {item.key: definition.scale.max for item in definition.items}
    response = try_out(client.login_as(cast.admin), definition, answers)
    assert response.status_code == 200
    assert response.text.count('<th scope="row">') == len(definition.subscales)


@pytest.mark.parametrize("bad", ["99", "0", "-1", "abc", "3.5", " ", "１"])
def test_an_answer_outside_the_scale_is_refused(client: Client, cast: Cast, bad: str) -> None:
    definition = builtin_definition("relationship", 1)
    answers: dict[str, object] = {item.key: 3 for item in definition.items}
    first = definition.items[0].key
    answers[first] = bad
    response = try_out(client.login_as(cast.coach), definition, answers)
    assert response.status_code == 422
    page = unescaped(response)
    if bad.strip():
        expected = message(
            "The answer to question %(number)s is not one of the choices. Choose one of them.",
            number=1,
        )
    else:
        expected = message("Choose an answer to question %(number)s.", number=1)
    assert f'<a href="#item-{first}">{expected}</a>' in page
    assert checked(response, definition.items[1].key, 3)


def test_two_answers_to_one_item_are_refused(client: Client, cast: Cast) -> None:
    definition = builtin_definition("pulse", 1)
    answers: dict[str, object] = {item.key: 2 for item in definition.items}
    first = definition.items[0].key
    answers[first] = [2, 4]
    response = try_out(client.login_as(cast.coach), definition, answers)
    assert response.status_code == 422
    assert f'<a href="#item-{first}">' in response.text


def test_an_unknown_item_key_is_refused_with_a_message(client: Client, cast: Cast) -> None:
    definition = builtin_definition("pulse", 1)
    answers: dict[str, object] = {item.key: 2 for item in definition.items}
    answers["made_up"] = 3
    response = try_out(client.login_as(cast.coach), definition, answers)
    assert response.status_code == 422
    page = unescaped(response)
    assert "made_up" in page
    assert 'class="error-summary"' in page
    assert "try-out-result" not in page


def test_a_complete_diary_entry_is_accepted(client: Client, cast: Cast) -> None:
    definition = builtin_definition("diary", 1)
    entry = {
        "valence": -2,
        "anger": 3,
        "hidden": 4,
        "child_behaviour": ["withdrew", "refused"],
        "child_felt": "Misschien\r\nwas hij bang.",
    }
    response = try_out(client.login_as(cast.coach), definition, entry)
    assert response.status_code == 200
    assert "try-out-result" in response.text
    assert checked(response, "valence", -2)
    assert 'value="withdrew" checked' in response.text
    assert "Misschien\nwas hij bang.</textarea>" in response.text


def test_a_diary_entry_keeps_its_text_when_something_is_missing(client: Client, cast: Cast) -> None:
    definition = builtin_definition("diary", 1)
    entry = {"anger": 2, "child_felt": "Ze was moe."}
    response = try_out(client.login_as(cast.coach), definition, entry)
    assert response.status_code == 422
    assert '<a href="#item-valence">' in response.text
    assert "Ze was moe.</textarea>" in response.text
    assert checked(response, "anger", 2)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("valence", 4),
        ("anger", -1),
        ("child_behaviour", "flew_away"),
        ("child_felt", "x" * 1001),
    ],
)
def test_a_tampered_diary_entry_is_refused(
    client: Client, cast: Cast, field: str, value: object
) -> None:
    definition = builtin_definition("diary", 1)
    entry: dict[str, object] = {"valence": 1, field: value}
    response = try_out(client.login_as(cast.coach), definition, entry)
    assert response.status_code == 422
    assert f'<a href="#item-{field}">' in response.text


def test_a_text_at_the_limit_counts_line_breaks_once(client: Client, cast: Cast) -> None:
    definition = builtin_definition("diary", 1)
    limit = definition.field("child_felt").max_length
    assert limit is not None
    text = ("a\r\n" * limit)[: limit + limit // 2]
    assert len(text.replace("\r\n", "\n")) <= limit < len(text)
    entry = {"valence": 0, "child_felt": text}
    assert try_out(client.login_as(cast.coach), definition, entry).status_code == 200


def test_a_question_shows_its_own_answer_error_and_page_language_every_time() -> None:
    # Question.html builds what does not depend on the answer once, and reuses it.
    points = (service.ScalePoint(1, "1", "never"), service.ScalePoint(2, "2", "always"))
    question = service.Question(key="q1", kind="scale", text="?", required=True, points=points)

    def checked(markup: str) -> list[str]:
        return re.findall(r'value="(\d)" checked', markup)

    with using_locale("nl"):
        first = str(replace(question, value="1").html("nl", all_required=False))
        second = str(replace(question, value="2").html("nl", all_required=False))
        unanswered = str(question.html("nl", all_required=False))
        wrong = str(replace(question, error="Kies er een").html("nl", all_required=False))
    with using_locale("en"):
        english = str(replace(question, value="2").html("nl", all_required=False))

    assert (checked(first), checked(second), checked(unanswered)) == (["1"], ["2"], [])
    assert "(verplicht)" in first and "Kies er een" not in first
    assert "Kies er een" in wrong and 'aria-describedby="item-q1-error"' in wrong
    assert "(required)" in english and "(verplicht)" not in english
    assert checked(english) == ["2"]
    saving = str(question.html("nl", all_required=True, save_url="/sessions/7/steps/a/answers"))
    other = str(question.html("nl", all_required=True, save_url="/sessions/8/steps/a/answers"))
    assert 'hx-post="/sessions/7/steps/a/answers"' in saving
    assert 'hx-post="/sessions/8/steps/a/answers"' in other and "/sessions/7/" not in other


def test_scale_radios_escape_their_labels_and_show_the_posted_answer() -> None:
    points = (
        service.ScalePoint(1, "1", '<b>never</b> & "so"'),
        service.ScalePoint(2, "2", None),
        service.ScalePoint(3, "+3", "always"),
    )
    question = service.Question(
        key="q1", kind="scale", text="?", required=True, points=points, value="2"
    )

    markup = str(question.html("nl", all_required=True))

    assert "<b>" not in markup
    assert "&lt;b&gt;never&lt;/b&gt; &amp; &#34;so&#34;" in markup
    radios = re.findall(r"<input [^>]*>", markup)
    assert len(radios) == 3
    checked = [r for r in radios if " checked" in r]
    assert checked == [
        '<input type="radio" id="item-q1-2" name="item-q1" value="2" checked required>'
    ]
    assert all(r.endswith(" required>") for r in radios)
    assert markup.count('<span class="scale-anchor" lang="nl">') == 2
    assert '<label class="scale-point" for="item-q1-3">' in markup

"""`_()` in templates: translated, values escaped, and the same on every call."""

from __future__ import annotations

from app import i18n
from app.templating import environment


def _render(source: str) -> str:
    return environment.from_string(source).render()


def test_template_messages_are_translated_in_the_current_locale() -> None:
    with i18n.using_locale("nl"):
        assert _render('{{ _("Log out") }}') == "Uitloggen"
        assert _render('{{ _("Log out") }}') == "Uitloggen"  # cached: still right
    with i18n.using_locale("en"):
        assert _render('{{ _("Log out") }}') == "Log out"


def test_values_in_template_messages_are_escaped_in_html_only() -> None:
    source = '{{ _("Hello %(name)s", name="<b>Kiki</b>") }}'
    plain = "{% autoescape false %}" + source + "{% endautoescape %}"
    with i18n.using_locale("en"):
        assert _render(source) == "Hello &lt;b&gt;Kiki&lt;/b&gt;"
        assert _render(plain) == "Hello <b>Kiki</b>"


def test_a_percent_sign_is_written_as_two_with_or_without_values() -> None:
    assert _render('{{ _("100%% sure") }}') == "100% sure"
    assert _render('{{ _("%(n)s%% sure", n=90) }}') == "90% sure"
    assert _render('{% autoescape false %}{{ _("100%% & sure") }}{% endautoescape %}') == (
        "100% & sure"
    )

"""References (slipway._references): ``models:/`` URIs, ``NAME[:VERSION]`` and ``GROUP/VERSION``,
every accepted form, and errors that say what is wrong."""

import pytest

from slipway._references import VersionRef, check_alias, check_name, parse_model_version
from slipway.errors import InvalidInput
from slipway.registry import ModelUri, Selector


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/abalone/3", ModelUri("abalone", Selector.NUMBER, version=3)),
        ("models:/abalone/latest", ModelUri("abalone", Selector.LATEST)),
        ("models:/abalone@prod", ModelUri("abalone", Selector.ALIAS, alias="prod")),
        ("models:/abalone@latest-approved", ModelUri("abalone", Selector.LATEST_APPROVED)),
        ("models:/Fraud.v2_rf-1@champion-2", ModelUri("Fraud.v2_rf-1", Selector.ALIAS, alias="champion-2")),
    ],
)
def test_good_uris_parse_and_print_back(uri: str, expected: ModelUri) -> None:
    parsed = ModelUri.parse(uri)
    assert parsed == expected
    assert str(parsed) == uri


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("abalone/3", "must start with 'models:/'"),
        ("models://abalone/3", "non-empty"),
        ("models:/abalone", "name a version"),
        ("models:/abalone/", "name a version"),
        ("models:/abalone/0", "neither a version number"),
        ("models:/abalone/-1", "neither a version number"),
        ("models:/abalone/v3", "neither a version number"),
        ("models:/abalone@", "after '@' comes an alias"),
        ("models:/abalone@Prod", "lowercase"),
        ("models:/abalone@prod/2", "after '@' comes an alias"),
        ("models:/abalone@latest", "models:/abalone/latest"),
        ("models:/aba lone/1", "only letters, digits"),
        ("models:/@prod", "non-empty"),
        (None, "must start with"),
    ],
)
def test_bad_uris_are_refused_with_the_reason(uri: str, why: str) -> None:
    with pytest.raises(InvalidInput, match="is not a model URI") as exc:
        ModelUri.parse(uri)
    assert why in exc.value.message
    assert "Accepted: models:/NAME/3" in exc.value.message
    assert exc.value.field == "uri"


@pytest.mark.parametrize("alias", ["latest", "latest-approved", "1st", "a b", "", "x" * 65, "PROD"])
def test_aliases_that_could_be_misread_are_refused(alias: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_alias(alias)
    assert exc.value.field == "alias"


@pytest.mark.parametrize("name", ["", "-x", "a/b", "a@b", "a b", "x" * 129, "abalone\n", "a:1"])
def test_group_names_must_fit_in_a_uri(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_name(name, "group")


def test_the_tail_of_a_uri_names_a_model_version_too() -> None:
    assert ModelUri.of("abalone/3") == ModelUri.parse("models:/abalone/3")
    assert ModelUri.of("abalone@prod") == ModelUri.parse("models:/abalone@prod")
    assert parse_model_version("abalone/3") == ("abalone", 3)
    for bad in ("abalone", "abalone/latest", "abalone/0", "/3", "a b/3", None):
        with pytest.raises(InvalidInput, match="is not GROUP/VERSION") as exc:
            parse_model_version(bad, "model")
        assert exc.value.field == "model"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("abalone", VersionRef("abalone", None)), ("abalone:3", VersionRef("abalone", 3)), ("a.b-c:12", ("a.b-c", 12))],
)
def test_name_and_version_references_parse_and_print_back(text: str, expected: VersionRef) -> None:
    parsed = VersionRef.parse(text)
    assert parsed == expected
    name, version = parsed
    assert (name, version) == tuple(expected)
    assert str(parsed) == text


# Five copies once read these five ways; the strictest rule is the one rule now: a name that is a
# valid name, then nothing or ':' and a positive integer.
@pytest.mark.parametrize("text", ["abalone:", "abalone:0", "abalone:x", "abalone:1:2", ":3", "aba lone:1", "", None])
def test_malformed_name_and_version_references_are_refused(text: object) -> None:
    with pytest.raises(InvalidInput, match="is not NAME or NAME:VERSION") as exc:
        VersionRef.parse(text, "baseline")
    assert exc.value.field == "baseline"

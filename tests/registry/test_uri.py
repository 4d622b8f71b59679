"""``models:/`` URIs: every accepted form, and errors that say what is wrong."""

import pytest

from slipway.errors import InvalidInput
from slipway.registry import ModelUri, Selector
from slipway.registry._uri import check_alias, check_group_name


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


@pytest.mark.parametrize("name", ["", "-x", "a/b", "a@b", "a b", "x" * 129])
def test_group_names_must_fit_in_a_uri(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_group_name(name)

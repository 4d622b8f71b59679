from __future__ import annotations

import pytest
from pydantic import ValidationError

from slipway.models import ModelCard


@pytest.mark.parametrize(
    "card",
    [
        ModelCard(),
        ModelCard(intended_use="Age from shell size.", evaluation={"rmse": 2.13, "r2": 0.5}),
        ModelCard(
            intended_use="Estimate the age of **abalone**.\n\n- farms\n- surveys",
            limitations="Trained on Tasmanian data only.",
            evaluation="Cross-validated RMSE of 2.1 rings.\n\n| fold | rmse |\n| --- | --- |\n| 1 | x |",
            extra="## Not a known section\n\nStays with the extra text.",
        ),
    ],
)
def test_markdown_round_trips(card: ModelCard) -> None:
    assert ModelCard.from_markdown(card.to_markdown()) == card


def test_markdown_has_readable_sections() -> None:
    text = ModelCard(intended_use="Use it.", evaluation={"rmse": 2.0}).to_markdown()
    assert text == "# Model card\n\n## Intended use\n\nUse it.\n\n## Evaluation\n\n| metric | value |\n" \
        "| --- | --- |\n| rmse | 2.0 |\n"


def test_text_is_stripped_and_empty_text_is_absent() -> None:
    assert ModelCard(intended_use="  x \n", limitations="   ") == ModelCard(intended_use="x")


def test_a_hand_written_card_keeps_unknown_parts_as_extra() -> None:
    card = ModelCard.from_markdown(
        "# Rings model\n\nBy the shellfish team.\n\n## Limitations\n\nSmall sample.\n\n"
        "## Evaluation\n\n| metric | value |\n| --- | --- |\n| mse | 4.5 |\n"
    )
    assert card.extra == "# Rings model\n\nBy the shellfish team."
    assert card.limitations == "Small sample."
    assert card.evaluation == {"mse": 4.5}


def test_metric_names_must_fit_in_a_table_and_the_card_is_frozen() -> None:
    with pytest.raises(ValidationError):
        ModelCard(evaluation={"a|b": 1.0})
    with pytest.raises(ValidationError, match="headings"):
        ModelCard(intended_use="Fine.\n\n## Limitations\n\nSneaked in.")
    card = ModelCard()
    with pytest.raises(ValidationError):
        card.limitations = "x"  # type: ignore[misc]

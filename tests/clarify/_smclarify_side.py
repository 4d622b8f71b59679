"""smclarify's side of tests/clarify/test_reference.py, run in its own environment (pandas 2, numpy 1).

Usage: python _smclarify_side.py DATA.csv CONFIG.json; prints the pre- and post-training reports as
one JSON document. CONFIG holds label, facet, label_values or label_threshold, facet_values or
facet_threshold, group and predicted_label, as Slipway's BiasConfig does.
"""

import json
import sys

import pandas as pd
from smclarify.bias import report


def main(data: str, config_file: str) -> None:
    with open(config_file) as file:
        config = json.load(file)
    frame = pd.read_csv(data)
    label, facet, predicted = config["label"], config["facet"], config.get("predicted_label")
    if config.get("label_threshold") is not None:
        # smclarify reads a column as continuous (a threshold applies) only when it is float or has
        # many distinct values; floats make its reading match the threshold asked for.
        frame[label] = frame[label].astype(float)
        if predicted:
            frame[predicted] = frame[predicted].astype(float)
        positive = [config["label_threshold"]]
    else:
        positive = list(config["label_values"])
    if config.get("facet_threshold") is not None:
        frame[facet] = frame[facet].astype(float)
        facet_column = report.FacetColumn(facet, [config["facet_threshold"]])
    else:
        facet_column = report.FacetColumn(facet, config.get("facet_values"))
    group = frame[config["group"]] if config.get("group") else None
    label_column = report.LabelColumn(label, frame[label], positive)
    found = {"pre": report.bias_report(frame.drop(columns=[predicted]) if predicted else frame, facet_column,
                                       label_column, report.StageType.PRE_TRAINING, group_variable=group)}
    if predicted:
        predicted_column = report.LabelColumn(predicted, frame[predicted], positive)
        found["post"] = report.bias_report(frame, facet_column, label_column, report.StageType.POST_TRAINING,
                                           predicted_column, group_variable=group)
    print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

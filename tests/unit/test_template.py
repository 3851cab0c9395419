"""What template.yaml promises: the retrain trigger cannot recurse, and each function gets least privilege."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from training import dataset, drift


class TemplateLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix: value}


TemplateLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((REPO / "template.yaml").read_text(), Loader=TemplateLoader)
    return loaded


def statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    policies = template["Resources"][function]["Properties"]["Policies"]
    return [statement for policy in policies for statement in policy["Statement"]]


def resource_texts(statement: dict[str, Any]) -> list[str]:
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return [r["Sub"] if isinstance(r, dict) else r for r in resources]


def test_the_trigger_fires_only_for_csv_under_training_data(template: dict[str, Any]) -> None:
    events = template["Resources"]["TrainFunction"]["Properties"]["Events"]
    (event,) = events.values()
    assert event["Type"] == "S3"
    rules = {rule["Name"]: rule["Value"] for rule in event["Properties"]["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": dataset.TRAINING_PREFIX, "suffix": ".csv"}


def test_the_train_function_cannot_write_where_it_is_triggered(template: dict[str, Any]) -> None:
    model_prefix = template["Parameters"]["ModelPrefix"]["Default"]
    written = [
        text
        for statement in statements(template, "TrainFunction")
        if "s3:PutObject" in statement["Action"]
        for text in resource_texts(statement)
    ]
    assert written
    for text in written:
        key_pattern = text.split("}/", 1)[1].replace("${ModelPrefix}", model_prefix)
        assert not key_pattern.startswith(dataset.TRAINING_PREFIX), text
    assert {p.split("}/", 1)[1] for p in written} == {"${ModelPrefix}*", drift.REPORTS_PREFIX + "*"}
    # and the code agrees: what training writes is never a training upload
    assert not dataset.is_training_upload(model_prefix + "versions/v/model.csv")
    assert not dataset.is_training_upload(drift.REPORTS_PREFIX + "drift/x.csv")


def test_the_predict_function_only_reads_models(template: dict[str, Any]) -> None:
    (statement,) = statements(template, "PredictFunction")
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "s3:GetObject"
    assert resource_texts(statement) == ["${ModelBucket.Arn}/${ModelPrefix}*"]


def test_no_wildcard_actions_or_resources(template: dict[str, Any]) -> None:
    for function in ("PredictFunction", "TrainFunction"):
        for statement in statements(template, function):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(action.startswith("s3:") and "*" not in action for action in actions), statement
            assert all(not text.endswith(":::*") and text != "*" for text in resource_texts(statement)), statement


def test_train_function_settings_are_deliberate(template: dict[str, Any]) -> None:
    properties = template["Resources"]["TrainFunction"]["Properties"]
    assert properties["ReservedConcurrentExecutions"] == 1
    assert properties["Timeout"] <= 900
    assert properties["MemorySize"] >= 1024


def test_scikit_learn_reaches_the_predict_function_only_with_the_joblib_fallback(template: dict[str, Any]) -> None:
    assert template["Parameters"]["JoblibFallback"]["Default"] == "Disabled"
    condition, with_fallback, without = template["Resources"]["PredictFunction"]["Properties"]["Layers"]["If"]
    assert template["Conditions"][condition] == {"Equals": [{"Ref": "JoblibFallback"}, "Enabled"]}
    assert {"Ref": "SklearnLayer"} in with_fallback
    assert {"Ref": "SklearnLayer"} not in without
    train = template["Resources"]["TrainFunction"]["Properties"]
    assert {"Ref": "SklearnLayer"} in train["Layers"]
    assert train["Environment"]["Variables"]["JOBLIB_FALLBACK"] == {"Ref": "JoblibFallback"}  # the gate knows
    serving = (REPO / "layers" / "deps" / "requirements-serving.txt").read_text().lower()
    assert "scikit-learn" not in serving
    assert "scipy" not in serving

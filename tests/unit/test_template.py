"""What template.yaml promises: the retrain trigger cannot recurse, and each function gets least privilege."""

from __future__ import annotations

from typing import Any

import pytest
import sam_template

from tests.conftest import REPO
from training import dataset, drift


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return sam_template.load(REPO / "template.yaml")


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


def test_the_local_upload_trigger_is_read_from_the_template(template: dict[str, Any]) -> None:
    """make local configures moto_server's bucket notification from this, not from a copy."""
    (trigger,) = sam_template.s3_triggers(template)
    assert (trigger.function, trigger.event) == ("TrainFunction", "TrainingDataUploaded")
    assert trigger.queue_configuration("arn:aws:sqs:us-east-1:123456789012:q") == {
        "Id": "TrainFunction.TrainingDataUploaded",
        "QueueArn": "arn:aws:sqs:us-east-1:123456789012:q",
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {
            "Key": {
                "FilterRules": [
                    {"Name": "prefix", "Value": dataset.TRAINING_PREFIX},
                    {"Name": "suffix", "Value": ".csv"},
                ]
            }
        },
    }
    assert sam_template.function_for([trigger], "TrainFunction.TrainingDataUploaded") == "TrainFunction"
    assert sam_template.function_for([trigger], "SomethingElse") is None


def test_snapstart_is_opt_in_and_the_api_reaches_a_published_version(template: dict[str, Any]) -> None:
    assert template["Parameters"]["SnapStart"]["Default"] == "Disabled"
    assert template["Conditions"]["WithSnapStart"] == {"Equals": [{"Ref": "SnapStart"}, "Enabled"]}
    predict = template["Resources"]["PredictFunction"]["Properties"]
    assert predict["SnapStart"] == {"ApplyOn": {"If": ["WithSnapStart", "PublishedVersions", "None"]}}
    # SnapStart snapshots published versions only; with AutoPublishAlias, SAM points the API's events at the alias.
    assert predict["AutoPublishAlias"] == "live"
    assert all(event["Type"] == "Api" for event in predict["Events"].values())


def test_one_architecture_parameter_sets_functions_and_layers(template: dict[str, Any]) -> None:
    assert template["Parameters"]["Architecture"]["AllowedValues"] == ["x86_64", "arm64"]
    assert template["Parameters"]["Architecture"]["Default"] == "x86_64"
    assert template["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]
    resources = template["Resources"]
    for name in ("PredictFunction", "TrainFunction"):
        assert "Architectures" not in resources[name]["Properties"]  # the Globals' value
    layers = [r for r in resources.values() if r["Type"] == "AWS::Serverless::LayerVersion"]
    assert len(layers) == 3
    for layer in layers:
        assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Architecture"}]

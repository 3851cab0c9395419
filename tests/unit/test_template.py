"""What template.yaml promises: the retrain trigger cannot recurse, and each function gets least privilege."""

from __future__ import annotations

from typing import Any

import pytest
import sam_template

from bikecast.registry import REPORTS_PREFIX, TRAINING_PREFIX, TRAINING_SUFFIX, Layout
from bikecast.serving import Settings
from tests.conftest import REPO
from training.settings import TrainSettings


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
    assert rules == {"prefix": TRAINING_PREFIX, "suffix": TRAINING_SUFFIX}


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
        assert not key_pattern.startswith(TRAINING_PREFIX), text
    assert {p.split("}/", 1)[1] for p in written} == {"${ModelPrefix}*", REPORTS_PREFIX + "*"}
    # and the code agrees: what training writes is never a training upload, for any model
    layouts = {name: Layout.of(name, name == "daily", model_prefix) for name in ("daily", "hourly")}
    for layout in layouts.values():
        for written_key in (layout.models + "versions/v/model.csv", layout.reports + "drift/x.csv"):
            assert not any(other.owns_upload(written_key, layouts) for other in layouts.values()), written_key


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


def test_scikit_learn_never_reaches_the_predict_function(template: dict[str, Any]) -> None:
    predict = template["Resources"]["PredictFunction"]["Properties"]
    assert predict["Layers"] == [{"Ref": "DepsLayer"}, {"Ref": "SharedLayer"}]
    assert {"Ref": "SklearnLayer"} in template["Resources"]["TrainFunction"]["Properties"]["Layers"]
    serving = (REPO / "layers" / "deps" / "requirements-serving.txt").read_text().lower()
    assert "scikit-learn" not in serving
    assert "scipy" not in serving


def _environment(template: dict[str, Any], function: str) -> dict[str, Any]:
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    variables |= template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return variables


@pytest.mark.parametrize(("function", "settings"), [("PredictFunction", Settings), ("TrainFunction", TrainSettings)])
def test_each_default_is_stated_once(template: dict[str, Any], function: str, settings: Any) -> None:
    """Every setting the template passes from a parameter has the parameter's default as the code's default."""
    defaults = {info.alias: info.default for info in settings.model_fields.values()}
    checked = 0
    for name, value in _environment(template, function).items():
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in template["Parameters"] and name in defaults:
            parameter = template["Parameters"][value["Ref"]]
            parsed = settings.model_validate({name: str(parameter["Default"])})
            field = next(key for key, info in settings.model_fields.items() if info.alias == name)
            assert getattr(parsed, field) == defaults[name], (name, parameter["Default"], defaults[name])
            checked += 1
    assert checked >= (4 if function == "PredictFunction" else 6)


def test_every_route_the_function_serves_reaches_it(template: dict[str, Any]) -> None:
    events = template["Resources"]["PredictFunction"]["Properties"]["Events"].values()
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events}
    assert routes >= {("post", "/predict"), ("post", "/api/makecalc/"), ("post", "/api/makecalc"), ("get", "/health"),
                      ("get", "/model"), ("get", "/models"), ("get", "/models/{name}"),
                      ("post", "/models/{name}/predict")}  # fmt: skip


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
                    {"Name": "prefix", "Value": TRAINING_PREFIX},
                    {"Name": "suffix", "Value": TRAINING_SUFFIX},
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

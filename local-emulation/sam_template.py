"""template.yaml as data, for local emulation: which functions S3 triggers, and on which keys; each function's layers.

The S3 notification rules of the local stack are read from here, so what triggers retraining locally is what
the template deploys (the event types and the prefix/suffix filter of each S3 event), not a copy of it. The layers
are read from the built template for `sam local invoke` (see sam_local.invoke_command).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


class TemplateLoader(yaml.CSafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, !If ...) as one-key mappings: {"Ref": ...}, {"If": ...}.
    libyaml's parser (PyYAML's wheels ship it): the built template is read on every `sam local invoke` here."""


def _tag(loader: yaml.CSafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix: value}


TemplateLoader.add_multi_constructor("!", _tag)


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=TemplateLoader)
    return loaded


@dataclass(frozen=True)
class S3Trigger:
    """One `Type: S3` event of a function: what S3 sends it, as a bucket notification would be configured."""

    function: str
    event: str
    events: tuple[str, ...]
    rules: tuple[tuple[str, str], ...]  # (prefix|suffix, value)

    @property
    def id(self) -> str:
        """The notification's id; S3 sends it back as the record's configurationId."""
        return f"{self.function}.{self.event}"

    def queue_configuration(self, queue_arn: str) -> dict[str, Any]:
        """This trigger as an S3 QueueConfiguration (the API's names differ from CloudFormation's)."""
        configuration: dict[str, Any] = {"Id": self.id, "QueueArn": queue_arn, "Events": list(self.events)}
        if self.rules:
            rules = [{"Name": name, "Value": value} for name, value in self.rules]
            configuration["Filter"] = {"Key": {"FilterRules": rules}}
        return configuration


def s3_triggers(template: dict[str, Any]) -> list[S3Trigger]:
    triggers = []
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event_name, event in resource["Properties"].get("Events", {}).items():
            if event["Type"] != "S3":
                continue
            properties = event["Properties"]
            events = properties["Events"]
            rules = properties.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            triggers.append(
                S3Trigger(
                    function=name,
                    event=event_name,
                    events=tuple([events] if isinstance(events, str) else events),
                    rules=tuple((rule["Name"].lower(), rule["Value"]) for rule in rules),
                )
            )
    return triggers


def function_for(triggers: list[S3Trigger], configuration_id: str) -> str | None:
    return next((t.function for t in triggers if t.id == configuration_id), None)


def function_layers(template: dict[str, Any], function: str) -> list[str]:
    """The logical ids of ``function``'s layers in the order SAM CLI stacks them under /opt: Globals.Function.Layers
    first (SAM prepends a global list), then the function's own. ValueError for anything but a Ref to a layer of
    this template (an ARN, a condition): such a layer cannot be baked from the build folder."""
    resources = template["Resources"]
    if resources.get(function, {}).get("Type") != "AWS::Serverless::Function":
        raise ValueError(f"{function} is not an AWS::Serverless::Function of the template")
    global_layers = (template.get("Globals") or {}).get("Function", {}).get("Layers", [])
    names = []
    for layer in [*global_layers, *resources[function].get("Properties", {}).get("Layers", [])]:
        name = layer.get("Ref") if isinstance(layer, dict) else None
        if not isinstance(name, str) or resources.get(name, {}).get("Type") != "AWS::Serverless::LayerVersion":
            raise ValueError(f"{function}: layer {layer!r} is not a Ref to an AWS::Serverless::LayerVersion")
        names.append(name)
    return names


def layer_dir(template: dict[str, Any], layer: str, build_dir: Path) -> Path:
    """Where `sam build` put a layer's files: its ContentUri, relative to the built template's folder."""
    content = template["Resources"][layer].get("Properties", {}).get("ContentUri")
    if not isinstance(content, str):
        raise ValueError(f"{layer}: ContentUri {content!r} is not a folder of the build")
    return build_dir / content


def without_layers(template: dict[str, Any]) -> dict[str, Any]:
    """A copy of the template whose functions have no layers, neither their own nor Globals'."""
    stripped = copy.deepcopy(template)
    ((stripped.get("Globals") or {}).get("Function") or {}).pop("Layers", None)
    for resource in stripped["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.get("Properties", {}).pop("Layers", None)
    return stripped


def dump(template: dict[str, Any]) -> str:
    """YAML that SAM CLI reads back as the same template. Intrinsics stay as loaded: `sam build` writes the built
    template in their long form (Ref, Fn::If ...), which the loader above leaves alone."""
    return yaml.dump(template, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False, width=1000)

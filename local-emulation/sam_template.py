"""template.yaml as data, for local emulation: which functions S3 triggers, and on which keys.

The S3 notification rules of the local stack are read from here, so what triggers retraining locally is what
the template deploys (the event types and the prefix/suffix filter of each S3 event), not a copy of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, !If ...) as one-key mappings: {"Ref": ...}, {"If": ...}."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
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

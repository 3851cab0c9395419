"""Generated requests against the real handler, in process: no answer is a 5xx, and every 4xx names the field.

Schemathesis generates valid and invalid requests from the committed spec (openapi/openapi.json); Hypothesis
strategies add what a schema does not describe: huge numbers, control characters and lone surrogates, repeated
keys, deep nesting, wrong content types, odd keys for the seed endpoint. Each case becomes an API Gateway REST
event for ``app.lambda_handler``, with the model served from moto's S3. ``derandomize=True``: CI sees the same
requests on every run. The explicit cases at the end pin the answers to the inputs the issue names.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema_rs import Draft202012Validator
from moto import mock_aws
from schemathesis import GenerationMode

from tests.conftest import BUCKET, DAILY, REPO, FakeLambdaContext, load_event, put_in_place
from tests.fakes import FAKE_CREDENTIALS
from tests.strategies import valid_rows as rows_of
from training import publish

SPEC: dict[str, Any] = json.loads((REPO / "openapi" / "openapi.json").read_text(encoding="utf-8"))
MIN_REQUESTS = 2_000
ROW = {"dteday": "2012-06-01", "weathersit": 1, "temp": 0.6, "atemp": 0.55, "hum": 0.5, "windspeed": 0.2}
FIELDS = DAILY.input_fields
CONTEXT = FakeLambdaContext()

Json = Any
Strategy = st.SearchStrategy


def fast(examples: int) -> settings:
    """Reproducible (derandomize), no per-example deadline (the first request of a kind warms caches)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


# -- the handler, cold-started once for this module --------------------------------------------------------------


@pytest.fixture(scope="module")
def handler(built_artifact: publish.Artifact, hourly_artifact: publish.Artifact) -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            **FAKE_CREDENTIALS,
            "POWERTOOLS_SERVICE_NAME": "bikecast-predict",
            "POWERTOOLS_METRICS_NAMESPACE": "bikecast",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": "false",
            "POWERTOOLS_LOG_LEVEL": "ERROR",  # thousands of out-of-range warnings would only fill the capture
            "MODEL_BUCKET": BUCKET,
            "MODEL_PREFIX": "models/",
        }.items():
            env.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "S3_ENDPOINT_URL", "ENABLE_SWAGGER", "MAX_BATCH_ROWS"):
            env.delenv(name, raising=False)
        with mock_aws():
            boto3.client("s3").create_bucket(Bucket=BUCKET)
            put_in_place(built_artifact)
            put_in_place(hourly_artifact)
            sys.modules.pop("app", None)
            yield importlib.import_module("app")


# -- sending a request and checking the answer -------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    text: str
    body: Json

    @property
    def fields(self) -> list[str]:
        return [detail["field"] for detail in self.body.get("details", [])]


@functools.cache
def event_template() -> dict[str, Any]:
    return load_event("health")


def send(
    handler: ModuleType,
    method: str,
    path: str,
    body: str | bytes | None = None,
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
) -> Answer:
    """One API Gateway REST proxy event through ``lambda_handler``; bytes that are not UTF-8 go base64-encoded."""
    headers = dict({"Content-Type": "application/json"} if headers is None else headers)
    event = copy.deepcopy(event_template())
    event.update(
        resource=path,
        path=path,
        httpMethod=method,
        headers=headers,
        multiValueHeaders={name: [value] for name, value in headers.items()},
        queryStringParameters=dict(query) if query else None,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
        isBase64Encoded=False,
    )
    event["requestContext"].update(resourcePath=path, httpMethod=method, path=f"/Prod{path}")
    if isinstance(body, bytes):
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    else:
        event["body"] = body
    response = handler.lambda_handler(event, CONTEXT)
    text = response["body"]
    return Answer(response["statusCode"], text, json.loads(text))


def post(handler: ModuleType, path: str, body: str | bytes, content_type: str | None = "application/json") -> Answer:
    return send(handler, "POST", path, body, {} if content_type is None else {"Content-Type": content_type})


def _validator(schema: Mapping[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": SPEC["components"]})


RESPONSE_VALIDATORS = {
    (path, method.upper(), int(status)): _validator(response["content"]["application/json"]["schema"])
    for path, operations in SPEC["paths"].items()
    for method, operation in operations.items()
    for status, response in operation["responses"].items()
}


def encodable(value: Json) -> Json:
    """``value`` with lone surrogates replaced, for the schema validator, which reads UTF-8 (the seed contract
    echoes keys, and a JSON key may hold a lone surrogate)."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encodable(v) for v in value]
    return value


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)

    def check(self, answer: Answer, path: str, method: str, request: object) -> None:
        """No 5xx; a documented status whose body matches the spec; a 4xx names the field(s) at fault."""
        self.statuses[answer.status] += 1
        shown = repr(request)[:300]
        assert answer.status < 500, f"{answer.status} for {method} {path} {shown}: {answer.text[:500]}"
        validator = RESPONSE_VALIDATORS.get((path.rstrip("/") or "/", method, answer.status))
        assert validator is not None, f"undocumented {answer.status} for {method} {path} {shown}: {answer.text[:300]}"
        problems = [error.message for error in validator.iter_errors(encodable(answer.body))]
        assert not problems, f"{method} {path} {answer.status} body does not match the spec: {problems[:3]}"
        if 400 <= answer.status < 500:
            assert answer.body["details"], f"{answer.status} without details for {shown}: {answer.text[:300]}"
            assert all(answer.fields), f"a detail names no field for {shown}: {answer.text[:300]}"
        assert "Traceback" not in answer.text
        assert len(answer.text) < 2_000_000, f"{len(answer.text)} characters answered to {shown}"

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> str:
        def count(low: int) -> int:
            return sum(n for status, n in self.statuses.items() if low <= status < low + 100)

        return (
            f"generated {self.total} requests: {count(500)} 5xx, {count(400)} 4xx, {count(200)} 2xx "
            f"(statuses {dict(sorted(self.statuses.items()))}, {time.monotonic() - self.started:.1f} s)"
        )


# -- strategies ---------------------------------------------------------------------------------------------------

# All of Unicode, lone surrogates and control characters included (JSON escapes them; json.loads gives them back).
any_text = st.text(st.characters(exclude_categories=()), max_size=40)
valid_rows: Strategy[dict[str, Json]] = rows_of(DAILY.row)
# JSON number tokens that json.dumps would never write: beyond float range, beyond int-to-str limits, specials.
raw_numbers = st.one_of(
    st.sampled_from(["1e309", "-1e309", "1e-400", "-0", "NaN", "Infinity", "-Infinity", "1" * 4301, "-" + "9" * 5000]),
    st.integers(300, 4000).map(lambda digits: "7" * digits),
    st.integers(-(10**400), 10**400).map(str),
    st.integers(300, 400).map(lambda exponent: f"1e{exponent}"),
)
scalars: Strategy[Json] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), any_text, st.integers(-(10**400), 10**400)
)
json_values: Strategy[Json] = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3), max_leaves=8
)
SENTINEL = "\x00raw-json-token\x00"


def dumps(value: Json, raw: str | None = None) -> str:
    """JSON text of ``value``, with the string SENTINEL replaced by a raw JSON token if one is given."""
    text = json.dumps(value)
    return text if raw is None else text.replace(json.dumps(SENTINEL), raw)


def media_types() -> Strategy[str]:
    named = st.sampled_from(
        [
            "text/csv",
            "text/plain",
            "text/html",
            "application/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=xyz",
            "application/octet-stream",
            "application/jsonl",
            "application/json-seq",
            "image/png",
            "*/*",
            "json",
            "application/json",
            "APPLICATION/JSON; charset=UTF-8",
            "application/vnd.api+json",
            " application/json ",
        ]
    )
    return st.one_of(named, st.from_regex(r"\A[a-z]{1,10}/[a-z0-9.+-]{1,15}\Z"), any_text)


# -- the generated run --------------------------------------------------------------------------------------------


def run_schemathesis(handler: ModuleType, tally: Tally) -> None:
    """Valid (positive) and invalid (negative) requests that Schemathesis derives from the committed spec."""
    schema = schemathesis.openapi.from_dict(SPEC)
    plan = [
        ("/predict", "POST", GenerationMode.POSITIVE, 250),
        ("/predict", "POST", GenerationMode.NEGATIVE, 650),
        ("/api/makecalc", "POST", GenerationMode.POSITIVE, 250),
        ("/api/makecalc", "POST", GenerationMode.NEGATIVE, 650),
        ("/models/hourly/predict", "POST", GenerationMode.POSITIVE, 150),
        ("/models/hourly/predict", "POST", GenerationMode.NEGATIVE, 250),
        ("/health", "GET", GenerationMode.POSITIVE, 5),
        ("/model", "GET", GenerationMode.POSITIVE, 5),
        ("/models", "GET", GenerationMode.POSITIVE, 5),
        ("/models/daily", "GET", GenerationMode.POSITIVE, 5),
        ("/models/hourly", "GET", GenerationMode.POSITIVE, 5),
    ]
    for path, method, mode, examples in plan:
        fuzz(handler, tally, schema[path][method], mode, examples)


def fuzz(handler: ModuleType, tally: Tally, operation: Any, mode: GenerationMode, examples: int) -> None:
    path, method = operation.path, operation.method.upper()

    @fast(examples)
    @given(case=operation.as_strategy(generation_mode=mode))
    def request(case: schemathesis.Case[Any]) -> None:
        sent = case.as_transport_kwargs(base_url="http://bikecast.test")
        body = json.dumps(sent["json"]) if "json" in sent else sent.get("data")
        assert body is None or isinstance(body, str | bytes), type(body)
        query = {str(k): str(v) for k, v in (sent.get("params") or {}).items()}
        headers = {str(k): str(v) for k, v in sent["headers"].items()}
        answer = send(handler, method, urlsplit(sent["url"]).path, body, headers, query)
        tally.check(answer, path, method, (mode.value, sent.get("json", body)))

    request()


def run_hypothesis(handler: ModuleType, tally: Tally) -> None:
    """What the schema does not describe, drawn by Hypothesis."""

    @fast(300)
    @given(
        st.sampled_from((*FIELDS, "extra", "")),
        st.one_of(raw_numbers, scalars.map(json.dumps), json_values.map(json.dumps)),
    )
    def odd_value(name: str, raw: str) -> None:
        answer = post(handler, "/predict", dumps({"instances": [ROW | {name: SENTINEL}]}, raw))
        tally.check(answer, "/predict", "POST", (name, raw[:80]))
        if answer.status == 422 and name in FIELDS:
            assert answer.fields in (["body"], [f"instances[0].{name}"]), answer.body

    @fast(150)
    @given(st.data())
    def repeated_key(data: st.DataObject) -> None:
        row = dumps(data.draw(valid_rows))
        key = data.draw(st.sampled_from([*json.loads(row)]))
        doubled = row[:-1] + f", {json.dumps(key)}: {json.dumps(data.draw(scalars))}" + "}"
        where = data.draw(st.sampled_from(["row", "instances", "makecalc"]))
        if where == "row":
            path, body, expected = "/predict", f'{{"instances": [{doubled}]}}', f"instances[0].{key}"
        elif where == "instances":
            path, body, expected = "/predict", f'{{"instances": [{row}], "instances": [{row}]}}', "instances"
        else:
            path, body, expected = "/api/makecalc", f'{{"a": {row}, "b": {doubled}}}', f"b.{key}"
        answer = post(handler, path, body)
        tally.check(answer, path, "POST", body[:200])
        assert answer.status == 422, answer.body
        assert answer.fields == [expected], answer.body
        assert "duplicate key" in answer.body["message"]

    @fast(150)
    @given(media_types(), st.sampled_from(["/predict", "/api/makecalc"]))
    def content_type(media_type: str, path: str) -> None:
        body = json.dumps({"instances": [ROW]} if path == "/predict" else {"0": ROW})
        answer = post(handler, path, body, media_type)
        tally.check(answer, path, "POST", media_type)
        json_like = handler.api.is_json(media_type)
        assert answer.status == (200 if json_like else 415), (media_type, answer.body)

    @fast(100)
    @given(st.integers(1, 120_000), st.sampled_from(["[", '{"a":']), st.sampled_from(["body", "instances", "temp"]))
    def deep(depth: int, opener: str, where: str) -> None:
        closer = "]" if opener == "[" else "}"
        nested = opener * depth + "1" + closer * depth
        body = {"body": nested, "instances": f'{{"instances": {nested}}}'}.get(
            where, dumps({"instances": [ROW | {"temp": SENTINEL}]}, nested)
        )
        answer = post(handler, "/predict", body)
        tally.check(answer, "/predict", "POST", (depth, opener, where))
        assert 400 <= answer.status < 500

    @fast(150)
    @given(st.dictionaries(any_text, valid_rows, min_size=1, max_size=8))
    def makecalc_keys(rows: dict[str, Json]) -> None:
        answer = post(handler, "/api/makecalc", json.dumps(rows))
        tally.check(answer, "/api/makecalc", "POST", list(rows))
        assert answer.status == 200, answer.body
        assert list(answer.body) == list(rows)

    @fast(150)
    @given(st.lists(valid_rows, min_size=1, max_size=20), st.booleans())
    def valid_batches(rows: list[dict[str, Json]], explain: bool) -> None:
        answer = post(handler, "/predict", json.dumps({"instances": rows, "explain": explain}))
        tally.check(answer, "/predict", "POST", rows[:2])
        assert answer.status == 200, answer.body
        assert len(answer.body["predictions"]) == len(answer.body["intervals"]) == len(rows)
        assert ("explanations" in answer.body) == explain

    @fast(150)
    @given(st.data(), st.sampled_from(["/predict", "/api/makecalc", "/models/hourly/predict"]))
    def raw_surrogates(data: st.DataObject, path: str) -> None:
        """Lone surrogates written raw into the event's body (no JSON escape), anywhere: keys, values, between."""
        row = json.dumps(ROW | ({"hr": 7} if "hourly" in path else {}))
        text = json.dumps({"instances": [json.loads(row)]}) if path != "/api/makecalc" else f'{{"0": {row}}}'
        at = data.draw(st.integers(0, len(text)))
        surrogate = chr(data.draw(st.integers(0xD800, 0xDFFF)))
        answer = post(handler, path, text[:at] + surrogate + text[at:])
        tally.check(answer, path, "POST", (at, hex(ord(surrogate))))

    @fast(150)
    @given(
        st.sampled_from(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "utf-8-sig", "utf-7", "shift_jis"]),
        st.sampled_from(["/predict", "/api/makecalc"]),
        st.text(st.characters(codec="latin-1"), max_size=5),
    )
    def encodings(encoding: str, path: str, extra: str) -> None:
        """The body in another encoding (sent base64-encoded when it is not UTF-8 text)."""
        body = {"instances": [ROW | {"note": extra}]} if path == "/predict" else {"0": ROW | {"note": extra}}
        raw = json.dumps(body, ensure_ascii=False).encode(encoding, errors="replace")
        answer = post(handler, path, raw)
        tally.check(answer, path, "POST", (encoding, extra))
        utf8 = raw.decode("utf-8", errors="strict") if _is_utf8(raw) else None
        if utf8 is None:
            assert (answer.status, answer.fields) == (422, ["body"]), (encoding, answer.body)

    for run in (odd_value, repeated_key, content_type, deep, makecalc_keys, valid_batches, raw_surrogates, encodings):
        run()


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_generated_requests_get_no_5xx_and_4xx_name_the_field(handler: ModuleType) -> None:
    tally = Tally()
    run_schemathesis(handler, tally)
    run_hypothesis(handler, tally)
    print(tally.summary())
    assert tally.total >= MIN_REQUESTS, tally.summary()
    assert not any(status >= 500 for status in tally.statuses), tally.summary()


# -- the named inputs, one by one ---------------------------------------------------------------------------------


def predict_body(row: Mapping[str, Json]) -> str:
    return json.dumps({"instances": [ROW | dict(row)]})


def with_raw(name: str, token: str) -> str:
    return dumps({"instances": [ROW | {name: SENTINEL}]}, token)


JSON_TYPE = "application/json"
MB = 1_100_000


@dataclass(frozen=True)
class Named:
    path: str
    body: Callable[[], str | bytes]  # built when the case runs: some bodies are megabytes
    status: int
    fields: list[str] | None = None  # the first details' fields, when the answer must name them
    content_type: str | None = JSON_TYPE  # None: no Content-Type header at all


PREDICT, MAKECALC = "/predict", "/api/makecalc"
NAMED = {
    "1 MB date string": Named(PREDICT, lambda: predict_body({"dteday": "2" * MB}), 422, ["instances[0].dteday"]),
    "1 MB string in an ignored field": Named(PREDICT, lambda: predict_body({"note": "x" * MB}), 200),
    "1 MB makecalc key, bad row": Named(MAKECALC, lambda: json.dumps({"k" * MB: {}}), 422),
    "10,001 rows": Named(PREDICT, lambda: json.dumps({"instances": [ROW] * 10_001}), 413, ["instances"]),
    "300,000 empty rows": Named(PREDICT, lambda: json.dumps({"instances": [{}] * 300_000}), 413, ["instances"]),
    "10,000 rows": Named(PREDICT, lambda: json.dumps({"instances": [ROW] * 10_000}), 200),
    "makecalc 10,001 keys": Named(MAKECALC, lambda: json.dumps({str(i): ROW for i in range(10_001)}), 413, ["body"]),
    "makecalc 10,000 unicode keys": Named(
        MAKECALC, lambda: json.dumps({f"ключ-{i}-😀": ROW for i in range(10_000)}), 200
    ),
    "makecalc empty and blank keys": Named(MAKECALC, lambda: json.dumps({"": ROW, " ": ROW}), 200),
    "makecalc control-character key": Named(MAKECALC, lambda: json.dumps({"\x00\ud800\n": ROW}), 200),
    "10,000 nested lists": Named(PREDICT, lambda: "[" * 10_000 + "]" * 10_000, 422, ["body"]),
    "1,000,000 nested lists": Named(PREDICT, lambda: "[" * 1_000_000 + "]" * 1_000_000, 422, ["body"]),
    "5,000 nested lists in a field": Named(
        PREDICT, lambda: with_raw("temp", "[" * 5_000 + "]" * 5_000), 422, ["instances[0].temp"]
    ),
    "5,000 nested objects as a row": Named(MAKECALC, lambda: '{"0": ' + '{"a": ' * 5_000 + "1" + "}" * 5_001, 422),
    "temp 1e309": Named(PREDICT, lambda: with_raw("temp", "1e309"), 422, ["instances[0].temp"]),
    "temp 10**400": Named(PREDICT, lambda: predict_body({"temp": 10**400}), 422, ["instances[0].temp"]),
    "instant 10**400": Named(PREDICT, lambda: predict_body({"instant": 10**400}), 422, ["instances[0].instant"]),
    "instant -10**400": Named(PREDICT, lambda: predict_body({"instant": -(10**400)}), 422, ["instances[0].instant"]),
    "5,000-digit number": Named(PREDICT, lambda: with_raw("hum", "9" * 5_000), 422, ["body"]),
    "year 9999": Named(PREDICT, lambda: predict_body({"dteday": "9999-12-31"}), 422, ["instances[0].dteday"]),
    "year 1": Named(PREDICT, lambda: predict_body({"dteday": "0001-01-01"}), 200),
    "NUL in date": Named(PREDICT, lambda: predict_body({"dteday": "2012-06-01\x00"}), 422, ["instances[0].dteday"]),
    "lone surrogate date": Named(PREDICT, lambda: predict_body({"dteday": "\ud800"}), 422, ["instances[0].dteday"]),
    "fullwidth digits date": Named(
        PREDICT, lambda: predict_body({"dteday": "２０１２-０６-０１"}), 422, ["instances[0].dteday"]
    ),
    "duplicate instances": Named(PREDICT, lambda: '{"instances": [], "instances": [{}]}', 422, ["instances"]),
    "duplicate row field": Named(PREDICT, lambda: predict_body({})[:-3] + ', "temp": 1}]}', 422, ["instances[0].temp"]),
    "duplicate makecalc key": Named(MAKECALC, lambda: f'{{"0": {json.dumps(ROW)}, "0": {{}}}}', 422, ["0"]),
    "text/csv": Named(PREDICT, lambda: predict_body({}), 415, ["body"], "text/csv"),
    "form-urlencoded": Named(PREDICT, lambda: "instances=1", 415, ["body"], "application/x-www-form-urlencoded"),
    "empty form": Named(MAKECALC, lambda: "", 415, ["body"], "application/x-www-form-urlencoded"),
    "multipart without boundary": Named(PREDICT, lambda: predict_body({}), 415, ["body"], "multipart/form-data"),
    "multipart with boundary": Named(
        PREDICT,
        lambda: '--x\r\nContent-Disposition: form-data; name="instances"\r\n\r\n1\r\n--x--\r\n',
        415,
        ["body"],
        "multipart/form-data; boundary=x",
    ),
    "no content type": Named(PREDICT, lambda: predict_body({}), 200, None, None),
    "JSON, charset, upper case": Named(PREDICT, lambda: predict_body({}), 200, None, "Application/JSON; charset=utf-8"),
    "empty body": Named(PREDICT, lambda: "", 422, ["body"]),
    "null body": Named(PREDICT, lambda: "null", 422, ["body"]),
    "not UTF-8 (sent base64)": Named(PREDICT, lambda: b'{"instances": "\xff\xfe"}', 422, ["body"]),
    "truncated JSON": Named(PREDICT, lambda: predict_body({})[:-5], 422, ["body"]),
}


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
@pytest.mark.parametrize("name", list(NAMED))
def test_named_inputs(handler: ModuleType, name: str) -> None:
    case = NAMED[name]
    headers = {} if case.content_type is None else {"Content-Type": case.content_type}
    answer = send(handler, "POST", case.path, case.body(), headers)
    Tally().check(answer, case.path, "POST", name)
    assert answer.status == case.status, answer.text[:500]
    if case.fields is not None:
        assert answer.fields[: len(case.fields)] == case.fields, answer.body
    if answer.status >= 400:
        assert len(answer.text) < 20_000, f"{len(answer.text)} characters for an error"


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_base64_encoded_bodies(handler: ModuleType) -> None:
    event = load_event("predict-single")
    event |= {"body": base64.b64encode(event["body"].encode()).decode(), "isBase64Encoded": True}
    assert handler.lambda_handler(event, CONTEXT)["statusCode"] == 200
    event["body"] = "not base64!"
    response = handler.lambda_handler(event, CONTEXT)
    assert response["statusCode"] == 422
    assert json.loads(response["body"])["details"][0]["field"] == "body"

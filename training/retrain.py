"""Retraining on upload: what the TrainFunction does for each new CSV under a model's training-data prefix.

An upload either trains or is rejected with a report; it never raises on data. Only S3 failing (a fault that is
not the data's) raises, so that S3 retries the event.

    which model owns the key? (else: ignored) -> already processed this exact object? (S3 may deliver twice)
    -> read and validate every row, key and label invariant (else: rejected, report)
    -> the serving model judges the labels' plausibility (else: rejected, report)
    -> drift report -> train on the accepted data plus this upload -> quality gate -> publish; promote if passed
    -> record the upload as accepted (promoted) or held (refused)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bikecast.store import StoreError
from training import dataset, drift, labels, promotion, publish
from training.data import DataRejected
from training.deployment import Deployment

Progress = Callable[[str], None]


def on_upload(deployment: Deployment, key: str, progress: Progress) -> dict[str, Any]:
    name = deployment.model_for_upload(key)
    if name is None:
        progress(f"ignored {key}: not a training upload (a .csv under a model's training-data prefix)")
        return {"status": "ignored", "key": key}
    outcome: dict[str, Any] = {"model": name, "key": key}
    info = next((i for i in deployment.store.objects(key) if i.key == key), None)
    if info is None:
        progress(f"ignored {key}: the object no longer exists")
        return outcome | {"status": "ignored", "reason": "the object no longer exists"}
    registry = deployment.registry(name)
    record = registry.upload_record(key)
    if record is not None and record.get("etag") == info.etag:
        progress(f"{key} was already processed ({record.get('status')}): nothing to do")
        return outcome | {"status": "duplicate", "reason": f"already processed: {record.get('status')}"}
    try:
        return outcome | judge_upload(deployment, name, info, progress)
    except StoreError:
        raise  # S3's fault, not the data's: S3 retries the event
    except DataRejected as rejection:
        report = dataset.record_rejection(deployment, name, info, rejection)
        progress(f"rejected {key}; nothing changed. Report: s3://{deployment.store.bucket}/{report}\n{rejection}")
        return outcome | {"status": "rejected", "report": report, "problems": rejection.problems[:20]}


def judge_upload(deployment: Deployment, name: str, info: Any, progress: Progress) -> dict[str, Any]:
    settings, spec = deployment.settings, deployment.spec(name)
    upload = dataset.read_upload(deployment, name, info)
    progress(f"{info.key}: {len(upload.data)} valid rows for the {name} model")
    pointer, current = promotion.current_model(deployment, name)
    problems = labels.problems(upload.data, current, settings.label_shift_limit, settings.label_spike_limit)
    if problems:
        raise DataRejected(upload.data.source, problems)
    outcome: dict[str, Any] = {"status": "trained"}
    report = None
    if current is not None:
        report = drift.report(current, upload.data, settings.drift_threshold)
        outcome["drift"] = report
        outcome["drift_report"] = drift.save(deployment.store, report, deployment.layout(name).reports)
        progress(
            f"drift: serving model {current.version} has MAE {report['actual']['mae']:.0f} on the upload, promised "
            f"{report['expected']['mae']:.0f} ({report['mae_ratio']}x; drifted={report['drifted']})"
        )
    accepted = dataset.accepted_uploads(deployment, name, besides=info.key, progress=progress)
    history = dataset.merge(deployment, name, accepted)
    merged = dataset.merge(deployment, name, [*accepted, upload])
    assert merged is not None
    progress(f"training set: {len(merged)} rows from {len(accepted) + 1} file(s)")
    try:
        candidate = publish.build(spec, merged, progress)
    except (ValueError, ArithmeticError) as error:  # data the recipe cannot learn from (e.g. too few rows)
        raise DataRejected(upload.data.source, [f"training on it failed: {type(error).__name__}: {error}"]) from None
    candidate.manifest["upload"] = {"key": info.key, "etag": info.etag}
    verdict = promotion.judge(
        deployment, name, candidate, current, history=history, upload=upload.data, drift=report, progress=progress
    )
    verdict = promotion.release(deployment, name, candidate, verdict, pointer, progress)
    deployment.registry(name).record_upload(
        {
            "key": info.key,
            "etag": info.etag,
            "status": dataset.ACCEPTED if verdict.promote else dataset.HELD,
            "reason": verdict.reason,
            "version": candidate.version,
        }
    )
    return outcome | {"version": candidate.version, "promoted": verdict.promote, "reason": verdict.reason}

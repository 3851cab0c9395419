"""Stand-ins shared by the tests and the benchmarks (which must not import test fixtures)."""

from sam_local import FAKE_CREDENTIALS as FAKE_CREDENTIALS  # the one copy, beside the emulation that needs it


class FakeLambdaContext:
    function_name = "PredictFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:PredictFunction"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000

"""One module per measurement; each exposes `run(ctx: harness.Context) -> list[harness.Figure]`.

Stream phases (`python -m benchmarks.streams`): ceiling, naive, pipeline, pure, memory, overdue,
profile. Report phases (`python -m benchmarks.report`): latency, recovery, replay. Modules whose
measurement needs a process of its own run it as `python -m benchmarks.phases.<name> --child ...`.
"""

STREAM_PHASES = ("ceiling", "naive", "pipeline", "pure", "memory", "overdue", "profile")
REPORT_PHASES = ("latency", "recovery", "replay")

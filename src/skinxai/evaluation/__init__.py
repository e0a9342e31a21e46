"""`skinxai evaluate`: the consolidated test report as files."""

from skinxai.evaluation.report import EvaluationResult, evaluate

__all__ = ["EvaluationResult", "evaluate"]

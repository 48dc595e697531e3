"""The shared harness base: process separation for experiment code, result recording, a common CLI, noise floor."""

from harnesses.base.cli import HarnessArgs, harness_main, harness_parser, parse_harness_args
from harnesses.base.errors import EvaluationFailure
from harnesses.base.isolation import run_experiment_process
from harnesses.base.noise import NoiseFloor, measure_noise_floor
from harnesses.base.recording import clear_result, fail, record

__all__ = [
    "EvaluationFailure", "HarnessArgs", "NoiseFloor", "clear_result", "fail", "harness_main", "harness_parser",
    "measure_noise_floor", "parse_harness_args", "record", "run_experiment_process",
]

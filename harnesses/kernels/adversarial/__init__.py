"""Solutions that cheat, each with the defence that stops it and the rule it is rejected under. Loaded by path,
never imported; tests/test_kernels_harness.py and tests/test_kernels_adversarial.py (CUDA ones: -m gpu) run them
through the harness. All target `diag_matmul` unless named otherwise.

| file | attack | defence | rule |
| --- | --- | --- | --- |
| cached_output | its first output again for later calls | runner: same storage as last call | stale_output |
| inplace_write | the result written into an input | runner: inputs compared after forward | input_mutated |
| calls_reference | imports and runs the reference Model | static check (run time: op recorder) | calls_reference |
| side_stream (CUDA) | work left on a side stream | static check (run time: early copy) | side_stream |
| patches_timer | time.perf_counter, Event.elapsed_time | static check (run time: timer snapshot) | patches_timer |
| alias_patch_functional (gelu) | F.gelu rebound via an alias | pristine baselines; torch state | patches_torch |
| alias_patch_torch | torch.diag rebound via an alias | pristine baselines; torch state | patches_torch |
| patch_in_forward | torch.diag rebound in forward | torch state, checked after each forward | patches_torch |
| matmul_precision | set_float32_matmul_precision | pristine baselines; torch state | changes_global_state |
| default_dtype | set_default_dtype(float64) | pristine baselines; torch state | changes_global_state |
| deterministic | use_deterministic_algorithms | pristine baselines; torch state | changes_global_state |
| cudnn_benchmark | cudnn.benchmark via an alias | pristine baselines; torch state | changes_global_state |
| alloc_conf_env | PYTORCH_CUDA_ALLOC_CONF via getattr(torch, "os") | pristine baselines; torch state | changes_global_state |
| tf32_matmul (CUDA) | cuBLAS TF32 via an alias | pristine baselines; torch state | changes_global_state |
| cudnn_tf32 (CUDA) | cuDNN TF32 via an alias | pristine baselines; torch state | changes_global_state |
| allocator_settings (CUDA) | caching allocator reconfigured | pristine baselines; torch state | changes_global_state |
| memory_fraction (CUDA) | per-process memory fraction capped | pristine baselines; torch state | changes_global_state |

"pristine baselines": the reference's outputs and timings come from a process that never imports a solution;
"torch state": harnesses.base.torch_state, snapshot before the import, checked after it and after each forward.
A shadow `harnesses/kernels/runner.py` in the experiment folder (tests/test_kernels_adversarial.py) is stopped by
import isolation: the runner starts with `python -P` and a PYTHONPATH without the experiment folder.
"""

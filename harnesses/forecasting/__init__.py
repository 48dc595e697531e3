"""The trusted time-series forecasting harness: walk-forward evaluation over rolling windows."""

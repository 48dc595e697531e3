"""Trusted evaluators. `base/` runs experiment code in its own process and records results; each built-in domain
(`forecasting/`, ...) adds its data split and metric functions on top. Experiment code never writes the number that
lands on the leaderboard: these harnesses compute it in their own process."""

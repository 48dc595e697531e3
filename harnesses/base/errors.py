"""The one exception a harness raises to end an evaluation as a recorded failure."""


class EvaluationFailure(Exception):
    """The experiment did not produce a valid result. `signature` is a short stable key for grouping failures
    (the Supervisor counts them); the message says what was wrong in words a Worker can act on."""

    def __init__(self, signature: str, message: str):
        self.signature = signature
        self.message = message
        super().__init__(f"{signature}: {message}")

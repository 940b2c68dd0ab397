"""The error every metric raises for prediction input it cannot score."""


class PredictionError(ValueError):
    """
    Prediction input that cannot be scored: missing frame, NaN box, unknown id, wrong shape.

    The message names the sequence, frame and object id where they apply and says what was
    expected. Metrics raise it instead of silently scoring the bad input as a failure, so a
    broken result file never turns into a plausible low score.
    """

"""Where trials are recorded: the only package that knows MLflow.

- :mod:`.reporter`    the Reporter protocol the trial loop talks to (no mlflow)
- :mod:`.tags`        run roles, trial states and the tag names of the record (no mlflow)
- :mod:`.uri`         the one tracking-URI check and the work dir's default store (no mlflow)
- :mod:`.mlflow_log`  the MLflow adapter: sweep parent run, trial child runs, results table
"""

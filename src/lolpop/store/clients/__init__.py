"""Read-only clients of an MLflow store behind one small protocol (:class:`~.base.StoreClient`).

* :mod:`.rest`: an MLflow tracking server over its public REST API, with ``requests``.
* :mod:`.sqlite`: an MLflow SQLite file read directly (``sqlite3``, opened read-only), for the
  schema revisions it knows.
* :mod:`.mlflow_adapter`: ``MlflowClient`` for everything else (and for the tracker's own client).

None of them imports MLflow at import time, so the ``lolpop`` command starts fast; only the
MLflow adapter imports it, when it is used.
"""

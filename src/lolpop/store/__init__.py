"""Store access: the one package that talks to MLflow, for the tracker and every reader alike.

Every ``mlflow`` import of lolpop lives here (the sklearn model flavour apart, in
``component/_sklearn_io.py``), and so does everything about *how* a store is reached:

* ``_compat``: the MLflow private names lolpop relies on, checked once at import, with fallbacks.
* ``_retry``: the one retry rule (what is resent, how far apart, which failures are the
  transport's) for every request to a tracking server, MLflow's client and the REST reader alike.
* ``_errors``: the one mapping of a store's refusals and failures to :mod:`lolpop.exceptions`.
* ``_bounded_client``: MLflow's REST stores and artifact repositories under that rule.
* ``_connection``: the pre-flight check of a store, client creation, the ``/health`` probe.
* ``_run_store``: the tracker's writes and reads (run cache, batches, exactly-once creates).
* ``reader`` (:class:`StoreReader`, :func:`open_client`) over ``clients``: read-only access
  (REST, SQLite read directly, ``MlflowClient``) for the CLI, lineage and audit.
* ``entities``: MLflow's entity types, for code outside this package that names them.

Importing this package is cheap: MLflow is imported by the modules that need it, when used.
"""

from lolpop.store.clients.base import StoreClient
from lolpop.store.reader import Located, StoreReader, open_client

__all__ = ["Located", "StoreClient", "StoreReader", "open_client"]

"""One module per evaluation task, each a ``run_X(data, models, ...)`` over the same embeddings."""

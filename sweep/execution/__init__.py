"""How chunks run: in this process, on local cores through Dask, or on a Dask cluster
(``executors``), with progress."""

"""The ``sweep`` command: ``run``, ``info``, ``compare``, ``sensitivity`` (``main``) and
``plot`` (``plot``)."""

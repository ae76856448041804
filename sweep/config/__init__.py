"""A sweep's input: the config's keys, their checks and defaults (``load``), and sampled
designs (``design``). Everything here runs before any work starts."""

"""A sweep's input, checked before any work starts: every key's declaration (``schema``), the
checked config (``model``), sampled designs (``design``), the ``[[lp]]`` tables (``lps``),
checks across keys (``checks``), and reading a config with its presets (``load``)."""

"""The liquidity mechanism of docs/mechanism.rst, one compiled function per step.

Pure functions of numbers and arrays (no Python objects, nothing allocated), compiled with
``numba.njit(cache=True, nogil=True)``; each names the step it computes and gives the shapes of
its arrays. The loops over scenarios, days and LPs that call them are in
:mod:`sweep.mechanism.kernels`; which rule value a step follows is an integer code from the
registry in :mod:`sweep.mechanism.rules`.

- :mod:`~sweep.mechanism.market`: step 1 (valuation proxy), step 4 (target stake and its window);
- :mod:`~sweep.mechanism.commitments`: steps 2-3 (events, stakes) and step 5's fee ladder;
- :mod:`~sweep.mechanism.fees`: steps 5-6 (fee rate, fees collected);
- :mod:`~sweep.mechanism.shares`: step 7 (split weights: tranches, virtual stake, time weights);
- :mod:`~sweep.mechanism.book`: step 9 (one side of the book, pegged volume, margin);
- :mod:`~sweep.mechanism.outcomes`: steps 8 and 10 (returns, supply).

This package imports nothing else of ``sweep``: everything else is built on it.
"""

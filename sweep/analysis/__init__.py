"""Reading results: variants compared (``compare``), a result's summary (``info``), Sobol'
indices and Morris effects (``sensitivity``), one LP's order book (``orderbook``)."""

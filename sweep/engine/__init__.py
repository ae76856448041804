"""From a checked config to numbers: market paths (``paths``), each kernel as a stage
(``stages``), the grid and its chunks (``plan``), one chunk's compute (``compute``) and
statistics over days (``summary``). Nothing here knows where results are written."""

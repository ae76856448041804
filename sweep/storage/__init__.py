"""Where results go: the result's layout (``layout``), in memory or netCDF4 (``io``), zarr
stores (``zarr_store``), output locks (``lock``) and free space (``space``)."""

"""`imgserve convert`: a folder tree rendered as the server would, on threads or a Dask cluster."""
